import codecs
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from crm.services import import_customers, read_customer_csv


class Command(BaseCommand):
    help = (
        "Import customers from a CSV file in the export format (manage.py export_customers): rows are matched "
        "by member_number, created or updated; bad rows are listed and skipped, the others kept. Exits non-zero "
        "if any row failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file; the header names the columns.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, write nothing.")
        parser.add_argument(
            "--encoding",
            default="utf-8-sig",
            help="Text encoding of the file: UTF-8 with or without BOM by default; cp932 for Shift_JIS from Excel.",
        )

    def handle(self, *args, file, dry_run, encoding, verbosity, **options):
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise CommandError(_("Unknown encoding %s.") % encoding) from exc
        path = Path(file)
        total = self._count_records(path, encoding)
        with (
            path.open(encoding=encoding, newline="") as lines,
            tqdm(total=total, unit=_("rows"), file=sys.stderr, disable=None) as bar,
            _quiet_row_logs(verbosity < 2),
        ):
            try:
                result = import_customers(rows=read_customer_csv(lines), progress=bar.update, dry_run=dry_run)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc

        for message in result.error_messages():
            self.stderr.write(message)
        if dry_run:
            self.stdout.write(_("Dry run: nothing was written. These counts say what an import would do."))
        self.stdout.write(
            _("Created %(created)d, updated %(updated)d, unchanged %(unchanged)d, failed %(failed)d.")
            % {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
               "failed": result.failed}
        )  # fmt: skip
        if result.failed:
            raise CommandError(_("%d rows failed (listed above); the other rows were imported.") % result.failed)

    def _count_records(self, path: Path, encoding: str) -> int:
        """Read the file once before writing anything: it exists, decodes, and has about this many rows."""
        try:
            with path.open(encoding=encoding, newline="") as lines:
                return max(sum(1 for _line in lines) - 1, 0)
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(error)s") % {"file": path, "error": exc.strerror}) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("%(file)s is not valid %(encoding)s (byte %(position)d). Excel saves Japanese CSV as Shift_JIS: "
                  "try --encoding cp932.") % {"file": path, "encoding": encoding, "position": exc.start}
            ) from exc  # fmt: skip


@contextmanager
def _quiet_row_logs(quiet: bool):
    """One log line per customer would bury the progress bar; -v 2 shows them."""
    row_logger = logging.getLogger("crm.services.customers")
    level = row_logger.level
    if quiet:
        row_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        row_logger.setLevel(level)
