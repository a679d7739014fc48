"""Forms of the staff pages. They validate what a person typed; the services decide what is allowed."""

from datetime import date, datetime

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from .models import Customer, Store
from .normalize import format_phone_national
from .prefectures import PREFECTURE_CHOICES
from .services.merges import CONSENT_GROUPS, MERGE_FIELD_GROUPS, default_merge_choices

MERGE_GROUP_LABELS = {
    "name": _("Name"),
    "kana": _("Name (kana)"),
    "email": _("Email"),
    "phone": _("Phone"),
    "birth_date": _("Birth date"),
    "address": _("Address"),
    "home_store": _("Home store"),
    "email_consent": _("Email consent"),
    "sms_consent": _("SMS consent"),
}
WINNER, LOSER, LOSER_WITH_BLANKS = "winner", "loser", "loser_with_blanks"


class SearchForm(forms.Form):
    """The one search box; the template draws the input with its htmx attributes."""

    q = forms.CharField(label=_("Search customers"), required=False, max_length=100)
    page = forms.IntegerField(label=_("Page"), required=False, min_value=1, max_value=100_000)


class CustomerForm(forms.Form):
    """A member's profile, address and consent as store staff type them at the counter. The service
    (create_customer / update_customer) normalises and validates; this form checks shapes only."""

    family_name = forms.CharField(label=_("Family name"), max_length=50)
    given_name = forms.CharField(label=_("Given name"), max_length=50, required=False)
    family_name_kana = forms.CharField(label=_("Family name (kana)"), max_length=50, required=False)
    given_name_kana = forms.CharField(label=_("Given name (kana)"), max_length=50, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))  # fmt: skip
    phone = forms.CharField(
        label=_("Phone"), max_length=32, required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "090-1234-5678"}),
    )  # fmt: skip
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    postal_code = forms.CharField(
        label=_("Postal code"), max_length=8, required=False,
        widget=forms.TextInput(attrs={"placeholder": "150-0001", "inputmode": "numeric"}),
    )  # fmt: skip
    prefecture = forms.ChoiceField(label=_("Prefecture"), choices=[("", "—"), *PREFECTURE_CHOICES], required=False)
    address = forms.CharField(label=_("Address"), max_length=255, required=False)
    home_store = forms.ModelChoiceField(label=_("Home store"), queryset=Store.objects.none(), required=False)
    email_opt_in = forms.BooleanField(
        label=_("Agrees to receive news and offers by email"), required=False,
        help_text=_("Ask the customer. The time and that staff recorded it are kept with the answer."),
    )  # fmt: skip
    sms_opt_in = forms.BooleanField(label=_("Agrees to receive news and offers by SMS"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home_store"].queryset = Store.objects.filter(active=True, kind="store").order_by("code")

    @classmethod
    def initial_for(cls, customer: Customer) -> dict:
        initial = {name: getattr(customer, name) for name in cls.base_fields if hasattr(customer, name)}
        initial["phone"] = format_phone_national(customer.phone) if customer.phone else ""
        initial["home_store"] = customer.home_store_id
        return initial

    def profile(self) -> dict:
        """The cleaned values, named as create_customer / update_customer take them."""
        return {name: value for name, value in self.cleaned_data.items() if name in self.base_fields}

    def add_service_errors(self, error: ValidationError) -> None:
        messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for field, texts in messages.items():
            self.add_error(field if field in self.fields else None, texts)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)


class MergeForm(forms.Form):
    """Merge `loser` into `winner`: one choice per field group (whose values survive) and a reason."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        error_messages={"required": _("Say why these customers are one person.")},
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Same person: confirmed by phone at the counter")}),
    )

    def __init__(self, *args, winner: Customer, loser: Customer, **kwargs):
        self.winner, self.loser = winner, loser
        kwargs.setdefault("initial", {}).update(
            {f"keep_{group}": side for group, side in default_merge_choices(winner=winner, loser=loser).items()}
        )
        super().__init__(*args, **kwargs)
        choices = [(WINNER, _("Keep the survivor's")), (LOSER, _("Take the merged record's"))]
        for group, fields in MERGE_FIELD_GROUPS.items():
            group_choices = list(choices)
            if group not in CONSENT_GROUPS and _would_blank(winner, loser, fields):
                group_choices.append((LOSER_WITH_BLANKS, _("Take the merged record's, and empty what it leaves empty")))
            self.fields[f"keep_{group}"] = forms.ChoiceField(
                label=MERGE_GROUP_LABELS.get(group, group), choices=group_choices, widget=forms.RadioSelect,
                required=False,
            )  # fmt: skip

    def keep(self) -> dict[str, str]:
        """The choices made; a group left out keeps the service's default (default_merge_choices)."""
        return {group: side for group in MERGE_FIELD_GROUPS if (side := self.cleaned_data[f"keep_{group}"])}

    def rows(self) -> list[dict]:
        """One row per field group: what each record holds and the choice between them."""
        rows = []
        for group, fields in MERGE_FIELD_GROUPS.items():
            field = self[f"keep_{group}"]
            shown = [[_display(customer, name) for name in fields] for customer in (self.winner, self.loser)]
            radios = list(field.subwidgets)
            rows.append(
                {
                    "label": MERGE_GROUP_LABELS.get(group, group),
                    "field": field,
                    "sides": list(zip(radios[:2], shown, strict=True)),
                    "with_blanks": radios[2] if len(radios) > 2 else None,
                    "differs": shown[0] != shown[1],
                }
            )
        return rows

    def add_service_errors(self, error: ValidationError) -> None:
        """Show what merge_customers refused next to the field it concerns, or above the form."""
        messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for field, texts in messages.items():
            self.add_error(field if field in self.fields else None, texts)


def _would_blank(winner: Customer, loser: Customer, fields: tuple[str, ...]) -> bool:
    """Whether taking the merged record's values could empty a field the survivor has filled."""
    return any(getattr(loser, f) in ("", None) and getattr(winner, f) not in ("", None) for f in fields)


def _display(customer: Customer, name: str) -> dict:
    """A field's label and value as staff read it ("—" when empty)."""
    field = Customer._meta.get_field(name)
    value = getattr(customer, name)
    if value in (None, ""):
        shown = "—"
    elif name == "phone":
        shown = format_phone_national(value)
    elif field.choices:
        shown = getattr(customer, f"get_{name}_display")()
    elif isinstance(value, bool):
        shown = _("Yes") if value else _("No")
    elif isinstance(value, datetime):
        shown = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    elif isinstance(value, date):
        shown = formats.date_format(value, "DATE_FORMAT")
    else:
        shown = str(value)
    return {"label": field.verbose_name, "value": shown}
