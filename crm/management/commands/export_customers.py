import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from crm.models import Customer
from crm.services import export_customers_csv


class Command(BaseCommand):
    help = (
        "Write every active (not merged) customer as CSV, the format import_customers reads. Streams, so any "
        "number of customers fits in memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="File to write; standard output if not given.")
        parser.add_argument("--bom", action="store_true", help="Start with a UTF-8 byte order mark, for Excel.")

    def handle(self, *args, output, bom, **options):
        total = Customer.objects.filter(merged_into__isnull=True).count()
        chunks = export_customers_csv(bom=bom)
        with tqdm(total=total, unit=_("rows"), file=sys.stderr, disable=None) as bar:
            if output:
                try:
                    with open(output, "w", encoding="utf-8", newline="") as out:
                        self._write(chunks, out.write, bar, bom=bom)
                except OSError as exc:
                    raise CommandError(
                        _("Cannot write %(file)s: %(error)s") % {"file": output, "error": exc.strerror}
                    ) from exc
            else:
                self._write(chunks, lambda text: self.stdout.write(text, ending=""), bar, bom=bom)

    @staticmethod
    def _write(chunks, write, bar, *, bom: bool) -> None:
        header_chunks = 2 if bom else 1
        for index, chunk in enumerate(chunks):
            write(chunk)
            if index >= header_chunks:
                bar.update(1)
