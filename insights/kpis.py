"""The KPI figures of shared/API.md (Insights), set-based.

Every figure is computed for the period and for the period of the same length just before it. Rows
come from the daily facts for the days they cover and from the base tables, through the same SELECTs
(facts.py), for the days after them (today). A figure whose denominator is empty is None (null), never
an error. Definitions, and what each filter means for each figure, are in the README (Insights).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from campaigns import conf as campaigns_conf
from campaigns.models import Campaign, CampaignRecipient
from crm.db_routers import reporting_db
from crm.models import Order
from inventory.models import Reservation

from . import facts
from .facts import Span
from .models import CustomerChannelDay, FactsState, PointsDay, TicketFact
from .params import Period, Scope

FIGURES = (
    "cross_channel_purchase_rate",
    "cross_channel_usage_rate",
    "omni_spend_per_customer",
    "store_only_spend_per_customer",
    "online_only_spend_per_customer",
    "resolution_rate",
    "first_contact_resolution_rate",
    "median_first_response_minutes",
    "csat_average",
    "points_issued",
    "points_redeemed",
    "points_expired",
    "pickup_rate",
    "campaign_conversion_rate",
)
ONLINE_CHANNELS = ("ec", "app")


def _ratio(numerator, denominator, digits: int = 4):
    return round(numerator / denominator, digits) if denominator else None


def _per(total, count):
    return round(total / count) if count else None


def _int(value) -> int:
    return int(value or 0)


# --- Where the rows come from --------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """The days of a period covered by the stored facts, and the days to compute live."""

    stored: tuple[date, date] | None
    live: tuple[date, date] | None


def split(period: Period, built_through: date | None) -> Source:
    if built_through is None or built_through < period.first:
        return Source(None, (period.first, period.last))
    if built_through >= period.last:
        return Source((period.first, period.last), None)
    return Source((period.first, built_through), (built_through + timedelta(days=1), period.last))


def _rows(conn, source: Source, model, columns, selects) -> tuple[str, list]:
    """A subquery with the fact table's columns: stored days UNION ALL live days."""
    parts, params = [], []
    if source.stored:
        parts.append(
            f"SELECT {', '.join(columns)} FROM {conn.ops.quote_name(model._meta.db_table)} "  # noqa: S608
            "WHERE day >= %s AND day <= %s"
        )
        params += [conn.ops.adapt_datefield_value(d) for d in source.stored]
    if source.live:
        span = Span.of_days(*source.live)
        for select in selects:
            sql, select_params = select(conn, span)
            parts.append(sql)
            params += select_params
    union = " UNION ALL ".join(f"SELECT * FROM ({p}) AS part{i}" for i, p in enumerate(parts))  # noqa: S608
    return union, params


def _group_filter(scope: Scope, params: list) -> str:
    conditions = []
    if scope.store is not None:
        conditions.append("home_store_id = %s")
        params.append(scope.store.pk)
    if scope.prefecture:
        conditions.append("prefecture = %s")
        params.append(scope.prefecture)
    return ("WHERE " + " AND ".join(conditions)) if conditions else ""


# --- Customers: cross-channel rates and spend ------------------------------------------------------
def customer_figures(conn, source: Source, scope: Scope) -> dict:
    rows, params = _rows(conn, source, CustomerChannelDay, facts.CUSTOMER_DAY_COLUMNS,
                         (facts.order_days_sql, facts.contact_days_sql))  # fmt: skip
    where = _group_filter(scope, params)
    # Without a channel filter every customer is in; with one, purchase figures look at the customers
    # who bought through it and usage figures at those who bought or wrote through it.
    if scope.channel:
        gates = ("MAX(CASE WHEN kind = 'order' AND channel = %s THEN 1 ELSE 0 END)",
                 "MAX(CASE WHEN channel = %s THEN 1 ELSE 0 END)")  # fmt: skip
        gate_params = [scope.channel, scope.channel]
    else:
        gates, gate_params = ("1", "1"), []
    sql = f"""
        SELECT
            SUM(CASE WHEN buyer = 1 THEN 1 ELSE 0 END),
            SUM(CASE WHEN buyer = 1 AND order_channels >= 2 THEN 1 ELSE 0 END),
            SUM(CASE WHEN buyer = 1 AND order_channels >= 2 THEN spend ELSE 0 END),
            SUM(CASE WHEN buyer = 1 AND order_channels = 1 AND first_channel = 'store' THEN 1 ELSE 0 END),
            SUM(CASE WHEN buyer = 1 AND order_channels = 1 AND first_channel = 'store' THEN spend ELSE 0 END),
            SUM(CASE WHEN buyer = 1 AND order_channels = 1 AND first_channel IN ('ec', 'app') THEN 1 ELSE 0 END),
            SUM(CASE WHEN buyer = 1 AND order_channels = 1 AND first_channel IN ('ec', 'app') THEN spend ELSE 0 END),
            SUM(CASE WHEN user_in = 1 THEN 1 ELSE 0 END),
            SUM(CASE WHEN user_in = 1 AND all_channels >= 2 THEN 1 ELSE 0 END)
        FROM (
            SELECT customer_id,
                   CASE WHEN COUNT(CASE WHEN kind = 'order' THEN 1 END) > 0 THEN {gates[0]} ELSE 0 END AS buyer,
                   {gates[1]} AS user_in,
                   COUNT(DISTINCT CASE WHEN kind = 'order' THEN channel END) AS order_channels,
                   COUNT(DISTINCT channel) AS all_channels,
                   MIN(CASE WHEN kind = 'order' THEN channel END) AS first_channel,
                   SUM(spend) AS spend
            FROM ({rows}) AS f {where}
            GROUP BY customer_id
        ) AS per_customer
    """  # noqa: S608
    with conn.cursor() as cursor:
        cursor.execute(sql, [*gate_params, *params])
        row = [_int(v) for v in cursor.fetchone()]
    buyers, omni, omni_spend, store_only, store_spend, online_only, online_spend, users, cross_users = row
    return {
        "cross_channel_purchase_rate": _ratio(omni, buyers),
        "cross_channel_usage_rate": _ratio(cross_users, users),
        "omni_spend_per_customer": _per(omni_spend, omni),
        "store_only_spend_per_customer": _per(store_spend, store_only),
        "online_only_spend_per_customer": _per(online_spend, online_only),
        "_counts": {"buyers": buyers, "omni": omni, "store_only": store_only, "online_only": online_only,
                    "users": users, "cross_users": cross_users},
    }  # fmt: skip


# --- Tickets ---------------------------------------------------------------------------------------
def ticket_rows(conn, source: Source, scope: Scope) -> tuple[str, list]:
    """Ticket facts of the period within the scope: a FROM-able subquery (alias `t`)."""
    rows, params = _rows(conn, source, TicketFact, facts.TICKET_COLUMNS, (facts.ticket_facts_sql,))
    where = _group_filter(scope, params)
    if scope.channel:
        where = f"{where} AND channel = %s" if where else "WHERE channel = %s"
        params.append(scope.channel)
    return f"(SELECT * FROM ({rows}) AS f {where}) AS t", params  # noqa: S608


def ticket_figures(conn, source: Source, scope: Scope) -> dict:
    rows, params = ticket_rows(conn, source, scope)
    sql = f"""
        SELECT COUNT(*),
               SUM(CASE WHEN resolved THEN 1 ELSE 0 END),
               SUM(CASE WHEN resolved AND replies >= 1 THEN 1 ELSE 0 END),
               SUM(CASE WHEN resolved AND replies = 1 THEN 1 ELSE 0 END),
               SUM(csat), COUNT(csat), COUNT(first_response_seconds)
        FROM {rows}
    """  # noqa: S608
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        opened, resolved, replied, one_reply, csat_sum, csat_count, responded = (_int(v) for v in cursor.fetchone())
        median = None
        if responded:
            # The middle value (or the two middle ones): ORDER BY with OFFSET, the same on every database.
            cursor.execute(
                f"SELECT first_response_seconds FROM {rows} WHERE first_response_seconds IS NOT NULL "  # noqa: S608
                "ORDER BY first_response_seconds LIMIT %s OFFSET %s",
                [*params, 2 - responded % 2, (responded - 1) // 2],
            )
            middle = [v for (v,) in cursor.fetchall()]
            median = round(sum(middle) / len(middle) / 60, 1)
    return {
        "resolution_rate": _ratio(resolved, opened),
        "first_contact_resolution_rate": _ratio(one_reply, replied),
        "median_first_response_minutes": median,
        "csat_average": _ratio(csat_sum, csat_count, 2),
        "_counts": {"tickets": opened, "resolved": resolved, "csat_responses": csat_count},
    }


# --- Points ----------------------------------------------------------------------------------------
def points_figures(conn, source: Source, scope: Scope) -> dict:
    rows, params = _rows(conn, source, PointsDay, facts.POINTS_COLUMNS, (facts.points_days_sql,))
    where = _group_filter(scope, params)
    if scope.channel:
        where = f"{where} AND channel = %s" if where else "WHERE channel = %s"
        params.append(scope.channel)
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT SUM(issued), SUM(redeemed), SUM(expired) FROM ({rows}) AS f {where}", params)  # noqa: S608
        issued, redeemed, expired = (_int(v) for v in cursor.fetchone())
    return {
        "points_issued": issued,
        "points_redeemed": redeemed,
        # Expiry belongs to no channel: with a channel filter the figure does not apply.
        "points_expired": None if scope.channel else expired,
    }


# --- Pickups ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PickupCount:
    ended: int  # pickups that reached their end in the period: collected, expired or cancelled
    collected: int


def reservation_pickups(span: Span, scope: Scope, using: str) -> PickupCount:
    """Click-and-collect reservations (inventory) that ended in the span, at the scope's store or in its
    prefecture. They are made by the EC site or the app and carry no channel of their own, so a
    channel filter leaves them out."""
    if scope.channel:
        return PickupCount(0, 0)
    ended = Reservation.objects.using(using).filter(
        kind=Reservation.Kind.PICKUP,
        status__in=[Reservation.Status.FULFILLED, Reservation.Status.EXPIRED, Reservation.Status.CANCELLED],
        closed_at__gte=span.start, closed_at__lt=span.end,
        order__isnull=True,  # a pickup order's units: counted once, as the order, by order_pickups
    )  # fmt: skip
    if scope.store is not None:
        ended = ended.filter(store=scope.store)
    if scope.prefecture:
        ended = ended.filter(store__prefecture=scope.prefecture)
    counts = ended.aggregate(
        ended=_count(), collected=_count(filter=Q(status=Reservation.Status.FULFILLED))
    )  # fmt: skip
    return PickupCount(counts["ended"], counts["collected"])


def order_pickups(span: Span, scope: Scope, using: str) -> PickupCount:
    """Click-and-collect orders (paid online, collected in a store) that ended in the span: collected,
    or cancelled (by the customer, staff, or because nobody came within INVENTORY_PICKUP_DAYS). Like
    the reservations, they count at their pickup store; a channel filter leaves them out."""
    if scope.channel:
        return PickupCount(0, 0)
    pickups = Order.objects.using(using).filter(fulfilment_type=Order.Fulfilment.PICKUP)
    if scope.store is not None:
        pickups = pickups.filter(fulfilled_from=scope.store)
    if scope.prefecture:
        pickups = pickups.filter(fulfilled_from__prefecture=scope.prefecture)
    collected = Q(status=Order.Status.COLLECTED, collected_at__gte=span.start, collected_at__lt=span.end)
    cancelled = Q(status=Order.Status.CANCELLED, cancelled_at__gte=span.start, cancelled_at__lt=span.end)
    counts = pickups.filter(collected | cancelled).aggregate(ended=_count(), collected=_count(filter=collected))
    return PickupCount(counts["ended"], counts["collected"])


# Every kind of pickup the pickup rate counts: click-and-collect reservations and pickup orders.
PICKUP_SOURCES = (reservation_pickups, order_pickups)


def pickup_figures(period: Period, scope: Scope, using: str) -> dict:
    span = Span.of_days(period.first, period.last)
    counts = [source(span, scope, using) for source in PICKUP_SOURCES]
    ended, collected = sum(c.ended for c in counts), sum(c.collected for c in counts)
    return {"pickup_rate": _ratio(collected, ended), "_counts": {"pickups_ended": ended, "collected": collected}}


def _count(**kwargs):
    return Count("pk", **kwargs)


# --- Campaigns -------------------------------------------------------------------------------------
def campaign_figures(period: Period, scope: Scope, using: str) -> dict:
    """Recipients mailed in the period who bought (in any channel, or in the filter's channel) within
    the campaigns' attribution window after their mail, over the recipients mailed. Hold-outs are
    not mailed and do not count."""
    span = Span.of_days(period.first, period.last)
    window = timedelta(days=campaigns_conf.attribution_days())
    campaigns = (
        Campaign.objects.using(using)
        .filter(started_at__lt=span.end)
        .filter(Q(sent_at__isnull=True) | Q(sent_at__gte=span.start))
    )
    mailed = CampaignRecipient.objects.using(using).filter(
        campaign__in=campaigns, state=CampaignRecipient.State.SENT, sent_at__gte=span.start, sent_at__lt=span.end
    )
    if scope.store is not None:
        mailed = mailed.filter(customer__home_store=scope.store)
    if scope.prefecture:
        mailed = mailed.filter(customer__prefecture=scope.prefecture)
    orders = (
        Order.objects.using(using)
        .filter(
            customer=OuterRef("customer"),
            ordered_at__gte=OuterRef("sent_at"),
            ordered_at__lt=OuterRef("sent_at") + window,
        )
        .exclude(status=Order.Status.RETURNED)
    )
    if scope.channel:
        orders = orders.filter(channel=scope.channel)
    counts = mailed.aggregate(mailed=_count(), converted=_count(filter=Q(Exists(orders))))
    return {
        "campaign_conversion_rate": _ratio(counts["converted"], counts["mailed"]),
        "_counts": {"mailed": counts["mailed"], "converted": counts["converted"]},
    }


# --- The report ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Freshness:
    built_through: date | None
    refreshed_at: object  # datetime | None
    computed_at: object

    def as_dict(self) -> dict:
        return {
            "facts_through": self.built_through.isoformat() if self.built_through else None,
            "facts_refreshed_at": self.refreshed_at.isoformat() if self.refreshed_at else None,
            "computed_at": self.computed_at.isoformat(),
        }


def freshness(using: str | None = None) -> Freshness:
    state = FactsState.objects.using(using or reporting_db()).filter(key="facts").first()
    return Freshness(
        state.built_through if state else None, state.refreshed_at if state else None, timezone.now()
    )  # fmt: skip


def period_figures(period: Period, scope: Scope, *, built_through: date | None, using: str) -> dict:
    """Every figure for one period, with the counts behind them under `_counts`."""
    conn = connections[using]
    source = split(period, built_through)
    figures, counts = {}, {}
    for part in (
        customer_figures(conn, source, scope),
        ticket_figures(conn, source, scope),
        points_figures(conn, source, scope),
        pickup_figures(period, scope, using),
        campaign_figures(period, scope, using),
    ):
        counts.update(part.pop("_counts", {}))
        figures.update(part)
    figures["_counts"] = counts
    return figures


@dataclass(frozen=True)
class Report:
    period: Period
    previous: Period
    scope: Scope
    figures: dict  # name -> {"value", "previous"}
    counts: dict  # name -> {"value", "previous"}: the denominators and numerators behind the figures
    freshness: Freshness

    def as_dict(self) -> dict:
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "previous_period": {"from": self.previous.first.isoformat(), "to": self.previous.last.isoformat()},
            "filters": self.scope.as_dict,
            "freshness": self.freshness.as_dict(),
            **self.figures,
        }


def kpi_report(*, period: Period, scope: Scope) -> Report:
    using = reporting_db()
    previous = period.previous()
    with facts.analytics(using):  # one snapshot of the facts for both periods
        fresh = freshness(using)
        now = period_figures(period, scope, built_through=fresh.built_through, using=using)
        before = period_figures(previous, scope, built_through=fresh.built_through, using=using)
    now_counts, before_counts = now.pop("_counts"), before.pop("_counts")
    return Report(
        period=period, previous=previous, scope=scope,
        figures={name: {"value": now[name], "previous": before[name]} for name in FIGURES},
        counts={k: {"value": now_counts[k], "previous": before_counts.get(k)} for k in now_counts},
        freshness=fresh,
    )  # fmt: skip
