"""The report's question: a period and the filters. One form checks it for the API, the dashboard and
`kpi_report`, so each refuses the same bad input with the same message, naming the parameter."""

from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.models import Channel, SalesChannel, Store
from crm.prefectures import PREFECTURE_CHOICES

MAX_PERIOD_YEARS = 5
DEFAULT_DAYS = 28
# Every channel a customer can buy or write through, as the API names them.
CHANNELS = list(dict.fromkeys([*SalesChannel.values, *Channel.values]))


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


@dataclass(frozen=True)
class Scope:
    store: Store | None = None
    prefecture: str = ""
    channel: str = ""

    @property
    def as_dict(self) -> dict:
        return {"store": self.store.code if self.store else None, "prefecture": self.prefecture or None,
                "channel": self.channel or None}  # fmt: skip


def default_period(today: date | None = None) -> Period:
    """The last four weeks, today included."""
    today = today or timezone.localdate()
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class ReportForm(forms.Form):
    to = forms.DateField(required=False, label=pgettext_lazy("date range", "To"), input_formats=["%Y-%m-%d"])
    store = forms.CharField(required=False, max_length=32, label=_("Store"))
    prefecture = forms.ChoiceField(required=False, choices=[("", "—"), *PREFECTURE_CHOICES], label=_("Prefecture"))
    channel = forms.ChoiceField(required=False, choices=[("", "—"), *((c, c) for c in CHANNELS)], label=_("Channel"))

    def clean_store(self):
        code = self.cleaned_data.get("store") or ""
        if not code:
            return None
        store = Store.objects.filter(code=code).first()
        if store is None:
            raise ValidationError(_("Unknown store."), code="unknown")
        return store

    def clean(self):
        data = super().clean()
        first, last = data.get("from"), data.get("to")
        if "from" in self.errors or "to" in self.errors:
            return data
        default = default_period()
        if first is None and last is None:
            first, last = default.first, default.last
        elif first is None:
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        elif last is None:
            last = max(first, default.last)
        if last < first:
            self.add_error("to", _("The period ends before it starts: “to” must be on or after “from”."))
        elif last >= _years_later(first, MAX_PERIOD_YEARS):
            self.add_error("to", _("A period may be at most %(years)d years long.") % {"years": MAX_PERIOD_YEARS})
        data["from"], data["to"] = first, last
        return data

    def period(self) -> Period:
        return Period(self.cleaned_data["from"], self.cleaned_data["to"])

    def scope(self) -> Scope:
        data = self.cleaned_data
        return Scope(
            store=data.get("store"), prefecture=data.get("prefecture") or "", channel=data.get("channel") or ""
        )


# "from" is a Python keyword, so the field is added by name.
ReportForm.base_fields = {
    "from": forms.DateField(required=False, label=pgettext_lazy("date range", "From"), input_formats=["%Y-%m-%d"]),
    **ReportForm.base_fields,
}
ReportForm.declared_fields = ReportForm.base_fields


def parse_report(data) -> tuple[Period, Scope]:
    """(period, scope) from query parameters; ValidationError naming each bad parameter."""
    form = ReportForm(data)
    if not form.is_valid():
        raise ValidationError({field: list(messages) for field, messages in form.errors.items()})
    return form.period(), form.scope()
