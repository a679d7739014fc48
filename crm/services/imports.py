"""Customers in and out of CSV: the export format is the import format, so a file exported, edited
in Excel and imported again changes exactly the cells that were edited.

Import rules (see `import_customers`):
- rows are matched by `member_number`: an existing member is updated with the cells that differ,
  an unknown number creates that member, an empty number creates a member with a new number;
- a column present in the file sets the field and an empty cell clears it, except the opt-in
  columns: an empty opt-in cell leaves consent as it is (consent is never changed by omission);
- each row is written in its own transaction: a bad row is reported and skipped, the others kept.
"""

import csv
import logging
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import ConsentSource, Customer, Store
from ..normalize import format_phone_national
from .customers import create_customer, normalise_profile, update_customer

logger = logging.getLogger(__name__)

CSV_COLUMNS = (
    "member_number", "family_name", "given_name", "family_name_kana", "given_name_kana", "email", "phone",
    "birth_date", "postal_code", "prefecture", "address", "home_store", "email_opt_in", "sms_opt_in", "created_at",
)  # fmt: skip
# Written by the export for reference, ignored by the import: the database keeps the real one.
_READ_ONLY_COLUMNS = ("created_at",)
_BOOLEAN_COLUMNS = ("email_opt_in", "sms_opt_in")
_TRUE = frozenset({"1", "true", "yes", "y", "はい"})
_FALSE = frozenset({"0", "false", "no", "n", "いいえ"})
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
# Codes and flags are read after NFKC so that full-width digits typed in Excel (１, ２０２４) work.
_NFKC_COLUMNS = frozenset({"member_number", "birth_date", "home_store", *_BOOLEAN_COLUMNS})
_EXPORT_CHUNK = 2000
# A cell starting with one of these is a formula to Excel: text typed by customers (a name from a
# web form) must not run when staff open the export, so it is written behind an apostrophe, which
# the import removes again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNCHANGED = object()  # an empty opt-in cell: leave the field as it is


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    # (line number in the file, field or "" for the whole row, message)
    errors: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Rows that were skipped because of an error."""
        return len({line for line, _field, _message in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_messages(self) -> list[str]:
        """One line per error, as people read them: ``line 7: phone: Enter a valid phone number.``"""
        return [
            str(_("line %(line)s: %(field)s: %(message)s") % {"line": line, "field": name, "message": message})
            if name
            else str(_("line %(line)s: %(message)s") % {"line": line, "message": message})
            for line, name, message in self.errors
        ]


class CsvRow(dict):
    """A CSV record keyed by column, remembering the file line it started on (quoted cells can
    span lines, so the record's index alone does not give the line people see in Excel)."""

    def __init__(self, values, *, line_number: int):
        super().__init__(values)
        self.line_number = line_number


def read_customer_csv(lines: Iterable[str]) -> Iterator[CsvRow]:
    """Rows of a customer CSV (any iterable of text lines, e.g. a file opened with newline="").
    Like csv.DictReader, extra cells go under the key None and missing cells are None; blank lines
    give empty rows so that line numbers stay right. A column named twice is refused."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    names = [_column_name(name) for name in header]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise ValidationError(_("These columns appear more than once in the header: %s.") % ", ".join(repeated))
    start = reader.line_num + 1
    for cells in reader:
        if not cells:
            yield CsvRow({}, line_number=start)
        else:
            row = dict(zip(names, cells, strict=False))
            row.update((name, None) for name in names[len(cells) :])
            if len(cells) > len(names):
                row[None] = cells[len(names) :]
            yield CsvRow(row, line_number=start)
        start = reader.line_num + 1


def import_customers(
    *,
    rows: Iterable[dict],
    actor=None,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Create or update customers from rows keyed by CSV_COLUMNS (see the module docstring).

    Unknown columns raise ValidationError before anything is written. Each other problem is
    reported in the result as (line, field, message) and skips only its row. With `dry_run` every
    row is checked against the database as for real and rolled back. `progress(n)` is called as
    rows are done (tqdm's `update` fits)."""
    result = ImportResult(dry_run=dry_run)
    stores = {store.code: store for store in Store.objects.all()}
    first_line_of: dict[str, int] = {}
    header_checked = False
    for index, raw_row in enumerate(rows):
        line = getattr(raw_row, "line_number", index + 2)  # the header is line 1
        row = {_column_name(key) if key is not None else None: value for key, value in raw_row.items()}
        if not header_checked and row:
            _check_columns(row)
            header_checked = True
        if _is_blank(row):
            _report_progress(progress)
            continue
        outcome, errors = _import_row(row, stores=stores, first_line_of=first_line_of, line=line, dry_run=dry_run)
        if errors:
            result.errors += [(line, name, message) for name, message in errors]
        else:
            setattr(result, outcome, getattr(result, outcome) + 1)
        _report_progress(progress)
    logger.info(
        "customers imported created=%d updated=%d unchanged=%d failed=%d dry_run=%s actor_id=%s",
        result.created, result.updated, result.unchanged, result.failed, dry_run, getattr(actor, "pk", None),
    )  # fmt: skip
    return result


def _report_progress(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)


def _column_name(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def _check_columns(row: dict) -> None:
    unknown = sorted(key for key in row if key and key not in CSV_COLUMNS)
    if unknown:
        raise ValidationError(
            _("Unknown columns: %(unknown)s. The columns are: %(columns)s.")
            % {"unknown": ", ".join(unknown), "columns": ", ".join(CSV_COLUMNS)}
        )


def _is_blank(row: dict) -> bool:
    """Excel leaves lines of bare commas under the data; they are not rows."""
    for value in row.values():
        cells = value if isinstance(value, list) else [value]
        if any(cell and cell.strip() for cell in cells):
            return False
    return True


def _import_row(
    row: dict, *, stores: dict[str, Store], first_line_of: dict[str, int], line: int, dry_run: bool
) -> tuple[str, list[tuple[str, str]]]:
    """Write one row in its own transaction. Returns what happened ("created", "updated",
    "unchanged") or the row's errors as (field, message)."""
    fields, errors = _parse_row(row, stores=stores)
    number = fields.get("member_number", "")
    if number:
        if number in first_line_of:
            errors.append(
                ("member_number", _("Appears more than once in this file (first on line %s).") % first_line_of[number])
            )
        else:
            first_line_of[number] = line
    if errors:
        return "", errors
    try:
        fields = normalise_profile(fields)
    except ValidationError as exc:
        return "", _error_pairs(exc)
    existing = Customer.objects.filter(member_number=fields["member_number"]).first() if number else None
    if existing is not None and existing.merged_into_id is not None:
        survivor = Customer.objects.filter(pk=existing.merged_into_id).values_list("member_number", flat=True).first()
        return "", [("member_number", _("This member was merged into member %s; use that number.") % survivor)]
    try:
        with transaction.atomic():
            if existing is None:
                create_customer(consent_source=ConsentSource.IMPORT, **fields)
                outcome = "created"
            else:
                changed = _changed_fields(existing, fields)
                if changed:
                    update_customer(customer=existing, consent_source=ConsentSource.IMPORT, **changed)
                outcome = "updated" if changed else "unchanged"
            if dry_run:
                transaction.set_rollback(True)
    except ValidationError as exc:
        return "", _error_pairs(exc)
    return outcome, []


def _parse_row(row: dict, *, stores: dict[str, Store]) -> tuple[dict, list[tuple[str, str]]]:
    """Cells to typed values for the customer services; problems as (field, message)."""
    fields, errors = {}, []
    if row.get(None):
        errors.append(("", _("The row has more cells than the header.")))
    for column, raw in row.items():
        if column is None or column in _READ_ONLY_COLUMNS:
            continue
        if column not in CSV_COLUMNS:
            if column or (raw or "").strip():
                errors.append((column, _("Unknown column.")))
            continue
        if raw is None:
            errors.append((column, _("The row has fewer cells than the header.")))
            continue
        value = _unescape(raw)
        value = unicodedata.normalize("NFKC", value).strip() if column in _NFKC_COLUMNS else value.strip()
        try:
            parsed = _parse_cell(column, value, stores=stores)
        except ValidationError as exc:
            errors += [(column, message) for message in exc.messages]
            continue
        if parsed is not _UNCHANGED:
            fields[column] = parsed
    return fields, errors


def _unescape(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def _escape(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def _parse_cell(column: str, value: str, *, stores: dict[str, Store]):
    if column in _BOOLEAN_COLUMNS:
        if not value:
            return _UNCHANGED
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ValidationError(_("Use 1 or 0 (also true/false, yes/no, はい/いいえ)."))
    if column == "birth_date":
        return _parse_date(value) if value else None
    if column == "home_store":
        if not value:
            return None
        if value not in stores:
            raise ValidationError(_("Unknown store code %s.") % value)
        return stores[value]
    if column == "member_number" and not value:
        return _UNCHANGED  # a new member: create_customer generates the number
    return value


def _parse_date(value: str) -> date:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValidationError(_("Enter a date as YYYY-MM-DD or YYYY/MM/DD."))


def _changed_fields(customer: Customer, fields: dict) -> dict:
    changed = {}
    for name, value in fields.items():
        if name == "member_number":
            continue
        if name == "home_store":
            if customer.home_store_id != (value.pk if value else None):
                changed[name] = value
        elif getattr(customer, name) != value:
            changed[name] = value
    return changed


def _error_pairs(exc: ValidationError) -> list[tuple[str, str]]:
    if not hasattr(exc, "error_dict"):
        return [("", message) for message in exc.messages]
    return [
        ("" if name == NON_FIELD_ERRORS else name, message)
        for name, messages in exc.message_dict.items()
        for message in messages
    ]


def customers_for_export(queryset: QuerySet[Customer] | None = None) -> Iterator[Customer]:
    """Active (not merged) customers, streamed in chunks so that a million rows never sit in memory."""
    queryset = Customer.objects.all() if queryset is None else queryset
    return (
        queryset.filter(merged_into__isnull=True)
        .select_related("home_store")
        .order_by("pk")
        .iterator(chunk_size=_EXPORT_CHUNK)
    )


def customer_csv_row(customer: Customer) -> list[str]:
    """One customer in CSV_COLUMNS order. Phones are written as people read them (090-1234-5678),
    which Excel keeps as text, and which the import turns back into the same E.164 number. Text
    that Excel would run as a formula is escaped (see _FORMULA_START)."""
    row = [
        customer.member_number,
        customer.family_name,
        customer.given_name,
        customer.family_name_kana,
        customer.given_name_kana,
        customer.email,
        format_phone_national(customer.phone),
        customer.birth_date.isoformat() if customer.birth_date else "",
        customer.postal_code,
        customer.prefecture,
        customer.address,
        customer.home_store.code if customer.home_store else "",
        "1" if customer.email_opt_in else "0",
        "1" if customer.sms_opt_in else "0",
        timezone.localtime(customer.created_at).isoformat(timespec="seconds"),
    ]
    return [_escape(cell) for cell in row]


class _Echo:
    """A file that hands back what is written, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def export_customers_csv(queryset: QuerySet[Customer] | None = None, *, bom: bool = False) -> Iterator[str]:
    """The export as text chunks (header first), for a file, stdout or a StreamingHttpResponse.
    With `bom`, a UTF-8 byte order mark comes first so that Excel reads the file as UTF-8."""
    writer = csv.writer(_Echo())
    if bom:
        yield "\ufeff"
    yield writer.writerow(CSV_COLUMNS)
    for customer in customers_for_export(queryset):
        yield writer.writerow(customer_csv_row(customer))
