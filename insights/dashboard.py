"""The staff dashboard's charts: each one a small table (labels × series) that the page draws with
Chart.js, shows as a table, and offers as CSV. Reads only; the KPI figures come from kpis.py."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connections
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from crm.db_routers import reporting_db
from inventory.models import Reservation

from .conf import setting
from .facts import Span, analytics
from .kpis import Report, split, ticket_rows
from .params import Period, Scope

TREND_WEEKS = 12  # the category trend shows at least this many weeks, ending with the period
MAX_TREND_WEEKS = 53
TOP_CATEGORIES = 5

RATE_FIGURES = (
    ("cross_channel_purchase_rate", _("Cross-channel purchase rate")),
    ("cross_channel_usage_rate", _("Cross-channel usage rate")),
    ("resolution_rate", _("Resolution rate")),
    ("first_contact_resolution_rate", _("First-contact resolution rate")),
    ("pickup_rate", _("Pickup rate")),
    ("campaign_conversion_rate", _("Campaign conversion rate")),
)
SPEND_FIGURES = (
    ("omni_spend_per_customer", _("Omnichannel customers")),
    ("store_only_spend_per_customer", _("Store-only customers")),
    ("online_only_spend_per_customer", _("Online-only customers")),
)
POINT_FIGURES = (
    ("points_issued", _("Issued")),
    ("points_redeemed", _("Redeemed")),
    ("points_expired", _("Expired")),
)
FIGURE_LABELS = {
    **dict(RATE_FIGURES),
    "omni_spend_per_customer": _("Spend per omnichannel customer (yen)"),
    "store_only_spend_per_customer": _("Spend per store-only customer (yen)"),
    "online_only_spend_per_customer": _("Spend per online-only customer (yen)"),
    "median_first_response_minutes": _("Median first response (minutes)"),
    "csat_average": _("CSAT average (1–5)"),
    "points_issued": _("Points issued"),
    "points_redeemed": _("Points redeemed"),
    "points_expired": _("Points expired"),
}
PERCENT_FIGURES = {name for name, _label in RATE_FIGURES}


@dataclass
class Chart:
    key: str
    title: str
    kind: str  # bar | stacked
    labels: list[str]
    series: list[tuple[str, list]]  # (name, one value per label; None = no data)
    unit: str = ""  # "%", "yen", "points", "tickets", ...
    note: str = ""
    columns: list[str] = field(default_factory=list)  # the table's header (first column = labels)

    def table_rows(self) -> list[list]:
        return [[label, *(values[i] for _name, values in self.series)] for i, label in enumerate(self.labels)]

    def as_json(self) -> dict:
        return {"key": self.key, "kind": self.kind, "unit": self.unit, "labels": [str(lb) for lb in self.labels],
                "series": [{"name": str(name), "values": values} for name, values in self.series]}  # fmt: skip


def _percent(value):
    return None if value is None else round(value * 100, 1)


def _comparison(report: Report, figures, *, title, key, unit, convert=lambda v: v) -> Chart:
    return Chart(
        key=key, title=title, kind="bar", unit=unit,
        labels=[str(label) for _name, label in figures],
        series=[
            (_("This period"), [convert(report.figures[name]["value"]) for name, _label in figures]),
            (_("Previous period"), [convert(report.figures[name]["previous"]) for name, _label in figures]),
        ],
    )  # fmt: skip


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def category_trend(period: Period, scope: Scope, *, built_through) -> Chart:
    """Tickets opened per week and category: the biggest categories and the complaint categories,
    the rest together as “other”."""
    last_week = _monday(period.last)
    weeks = min(max(TREND_WEEKS, (last_week - _monday(period.first)).days // 7 + 1), MAX_TREND_WEEKS)
    first = last_week - timedelta(weeks=weeks - 1)
    trend = Period(first, period.last)
    conn = connections[reporting_db()]
    rows, params = ticket_rows(conn, split(trend, built_through), scope)
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT day, category, COUNT(*) FROM {rows} GROUP BY day, category", params)  # noqa: S608
        counted = cursor.fetchall()
    by_week: dict[tuple[date, str], int] = {}
    totals: dict[str, int] = {}
    for day, category, n in counted:
        day = date.fromisoformat(day) if isinstance(day, str) else day
        by_week[(_monday(day), category)] = by_week.get((_monday(day), category), 0) + n
        totals[category] = totals.get(category, 0) + n
    complaints = [c for c in setting("INSIGHTS_COMPLAINT_CATEGORIES") if c in totals]
    biggest = [c for c, _n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])) if c not in complaints]
    shown = complaints + biggest[: max(TOP_CATEGORIES - len(complaints), 0)]
    week_starts = [first + timedelta(weeks=i) for i in range(weeks)]
    series = []
    for category in shown:
        name = category or _("(no category)")
        series.append((name, [by_week.get((w, category), 0) for w in week_starts]))
    others = [c for c in totals if c not in shown]
    if others:
        series.append((_("Other"), [sum(by_week.get((w, c), 0) for c in others) for w in week_starts]))
    return Chart(
        key="categories", title=_("Tickets by category, per week"), kind="stacked", unit="tickets",
        labels=[w.isoformat() for w in week_starts], series=series,
        note=_("Weeks start on Monday. Complaint categories: %(names)s.")
        % {"names": ", ".join(setting("INSIGHTS_COMPLAINT_CATEGORIES"))},
    )  # fmt: skip


def csat_by_channel(period: Period, scope: Scope, *, built_through) -> Chart:
    conn = connections[reporting_db()]
    rows, params = ticket_rows(conn, split(period, built_through), scope)
    with conn.cursor() as cursor:
        cursor.execute(
            f"SELECT channel, COUNT(*), COUNT(csat), SUM(csat) FROM {rows} GROUP BY channel ORDER BY channel",  # noqa: S608
            params,
        )
        counted = cursor.fetchall()
    labels, averages, responses, tickets = [], [], [], []
    for channel, n, answered, total in counted:
        labels.append(channel)
        averages.append(round(total / answered, 2) if answered else None)
        responses.append(answered)
        tickets.append(n)
    return Chart(
        key="csat", title=_("CSAT by channel"), kind="bar", unit="score",
        labels=labels,
        series=[(_("CSAT average"), averages), (_("Answers"), responses), (_("Tickets opened"), tickets)],
        note=_("Channel where the ticket was opened; answers from 1 (poor) to 5 (excellent)."),
    )  # fmt: skip


def reservation_outcomes(period: Period, scope: Scope) -> Chart:
    """Pickups and try-ons that ended in the period, by how they ended."""
    span = Span.of_days(period.first, period.last)
    ended = Reservation.objects.using(reporting_db()).filter(
        kind__in=[Reservation.Kind.PICKUP, Reservation.Kind.TRY_ON],
        status__in=[Reservation.Status.FULFILLED, Reservation.Status.EXPIRED, Reservation.Status.CANCELLED],
        closed_at__gte=span.start, closed_at__lt=span.end,
    )  # fmt: skip
    if scope.store is not None:
        ended = ended.filter(store=scope.store)
    if scope.prefecture:
        ended = ended.filter(store__prefecture=scope.prefecture)
    if scope.channel:
        ended = ended.none()
    counts = {(k, s): n for k, s, n in ended.values_list("kind", "status").annotate(n=Count("pk")).order_by()}
    statuses = (
        (Reservation.Status.FULFILLED, _("Collected / attended")),
        (Reservation.Status.EXPIRED, _("Not collected / no-show")),
        (Reservation.Status.CANCELLED, _("Cancelled")),
    )
    return Chart(
        key="pickups", title=_("Pickups and try-ons"), kind="stacked", unit="reservations",
        labels=[str(Reservation.Kind.PICKUP.label), str(Reservation.Kind.TRY_ON.label)],
        series=[(label, [counts.get((kind, status), 0) for kind in (Reservation.Kind.PICKUP, Reservation.Kind.TRY_ON)])
                for status, label in statuses],
        note=_("Reservations that ended in the period, at the chosen store or in the chosen prefecture."),
    )  # fmt: skip


def dashboard_charts(report: Report) -> list[Chart]:
    built = report.freshness.built_through
    with analytics(reporting_db()):
        return _charts(report, built)


def _charts(report: Report, built) -> list[Chart]:
    return [
        _comparison(report, RATE_FIGURES, title=_("Rates, this period and the one before"), key="rates", unit="%",
                    convert=_percent),
        _comparison(report, SPEND_FIGURES, title=_("Spend per customer (yen)"), key="spend", unit="yen"),
        _comparison(report, POINT_FIGURES, title=_("Points"), key="points", unit="points"),
        category_trend(report.period, report.scope, built_through=built),
        csat_by_channel(report.period, report.scope, built_through=built),
        reservation_outcomes(report.period, report.scope),
    ]  # fmt: skip


@dataclass(frozen=True)
class FigureRow:
    name: str
    label: str
    value: object
    previous: object
    change: object  # value − previous (percentage points for rates)
    percent: bool


def figure_rows(report: Report) -> list[FigureRow]:
    from .kpis import FIGURES

    out = []
    for name in FIGURES:
        figure = report.figures[name]
        percent = name in PERCENT_FIGURES
        value, previous = figure["value"], figure["previous"]
        if percent:
            value, previous = _percent(value), _percent(previous)
        change = None if value is None or previous is None else round(value - previous, 2)
        out.append(FigureRow(name, str(FIGURE_LABELS.get(name, name)), value, previous, change, percent))
    return out
