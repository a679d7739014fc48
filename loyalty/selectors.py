"""Reads of the loyalty app that pages, endpoints, other apps and commands reuse."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Case, F, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm.caching import ConfigCache
from crm.models import Customer
from crm.registry import TimelineEntry

from . import conf
from .models import EarnRule, PointAccount, PointCampaign, PointLot, PointTransaction, Tier

EXPIRING_LIMIT = 100


@dataclass(frozen=True)
class Expiring:
    points: int
    expires_at: datetime


@dataclass(frozen=True)
class Balance:
    balance: int
    tier: Tier | None
    lifetime_spend: int
    expiring: list[Expiring]


def account_of(customer: Customer) -> PointAccount | None:
    return PointAccount.objects.select_related("tier").filter(customer=customer).first()


@dataclass(frozen=True)
class Rules:
    """The rules every order and balance reads: tiers (lowest first), the active earn rule of each
    channel, and the active point campaigns (their dates are checked per order)."""

    tiers: list[Tier]
    earn_rules: dict[str, EarnRule]
    campaigns: list[PointCampaign]

    def tier(self, pk: int | None) -> Tier | None:
        """The tier with this id; the base tier for none (customers not ranked yet)."""
        if pk is not None:
            for tier in self.tiers:
                if tier.pk == pk:
                    return tier
        return self.tiers[0] if self.tiers else None


def _load_rules() -> Rules:
    return Rules(
        tiers=list(Tier.objects.order_by("min_spend", "pk")),
        earn_rules={rule.channel: rule for rule in EarnRule.objects.filter(active=True)},
        campaigns=list(PointCampaign.objects.filter(active=True).order_by("pk")),
    )


# Read by every order and every balance, edited rarely in the admin: one per-process copy of all of
# them (one shared-cache round trip per use), dropped in every process when any of them is saved.
rules: ConfigCache[Rules] = ConfigCache("loyalty.rules", _load_rules, models=[Tier, EarnRule, PointCampaign])


def base_tier() -> Tier | None:
    """The lowest tier: customers without an account, or without a tier yet, are on it."""
    return rules.get().tier(None)


def open_lots_by_expiry(*, account: PointAccount, until: datetime | None = None) -> list[Expiring]:
    """Points still spendable, grouped by when they expire, soonest first."""
    lots = PointLot.objects.filter(account=account, remaining__gt=0, expires_at__gt=timezone.now())
    if until is not None:
        lots = lots.filter(expires_at__lte=until)
    rows = lots.values_list("expires_at").annotate(points=Sum("remaining")).order_by("expires_at")[:EXPIRING_LIMIT]
    return [Expiring(points=points, expires_at=at) for at, points in rows]


def customer_balance(customer: Customer) -> Balance:
    """Balance, tier, lifetime spend and the open lots by expiry, in one hand-written statement (the
    checkout's read, `GET /api/v1/loyalty/{id}/`: the ORM's two queries cost more CPU to compile than
    to run), with the tier from the per-process rules."""
    with connection.cursor() as cursor:
        cursor.execute(_BALANCE_SQL, [timezone.now(), customer.pk, EXPIRING_LIMIT])
        rows = cursor.fetchall()
    if not rows:
        return Balance(balance=0, tier=base_tier(), lifetime_spend=0, expiring=[])
    _account, balance, tier_id, lifetime_spend, _at, _points = rows[0]
    return Balance(
        balance=balance,
        tier=rules.get().tier(tier_id),
        lifetime_spend=lifetime_spend,
        expiring=[Expiring(points=points, expires_at=_timestamp(at)) for *_a, at, points in rows if at is not None],
    )


def _timestamp(value) -> datetime:
    """A timestamp read by hand-written SQL: psycopg gives an aware datetime; SQLite's driver a naive
    one in UTC (or the stored text, for a column its type detection misses)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


_BALANCE_SQL = f"""
    SELECT a.id, a.balance, a.tier_id, a.lifetime_spend, l.expires_at, SUM(l.remaining)
    FROM {PointAccount._meta.db_table} a
    LEFT JOIN {PointLot._meta.db_table} l ON l.account_id = a.id AND l.remaining > 0 AND l.expires_at > %s
    WHERE a.customer_id = %s
    GROUP BY a.id, a.balance, a.tier_id, a.lifetime_spend, l.expires_at
    ORDER BY l.expires_at
    LIMIT %s
"""  # noqa: S608  # nosec B608  model tables only; every value is a parameter


def customer_point_summaries(*, customers) -> dict[int, dict]:
    """`points_balance`, `tier` (code) and `tier_name` of a page of customers, in one statement: customers
    without an account yet have 0 points and the base tier. Every customer answer of the API asks this
    (resolve, search, detail), so it is a hand-written statement over the accounts' three columns, with
    the tiers from the per-process rules (the ORM's query with its tier join cost more CPU than its run)."""
    pks = [c.pk for c in customers]
    if not pks:
        return {}
    known = rules.get()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, balance, tier_id FROM {PointAccount._meta.db_table} "  # noqa: S608  # nosec B608
            f"WHERE customer_id IN ({', '.join(['%s'] * len(pks))})",  # the model's table; ids are parameters
            pks,
        )
        accounts = {customer_id: (balance, tier_id) for customer_id, balance, tier_id in cursor.fetchall()}
    summaries = {}
    for pk in pks:
        balance, tier_id = accounts.get(pk, (0, None))
        tier = known.tier(tier_id)
        # `tier` is the code integrations read; `tier_name` is what staff pages show.
        summaries[pk] = {
            "points_balance": balance, "tier": tier.code if tier else None, "tier_name": tier.name if tier else None,
        }  # fmt: skip
    return summaries


def customer_transactions(customer: Customer) -> QuerySet[PointTransaction]:
    """The ledger of the customer's account, newest first (public ids sort by creation time)."""
    return (
        PointTransaction.objects.filter(account__customer=customer)
        .select_related("store", "order", "actor")
        .order_by("-public_id")
    )


def point_timeline(*, customer: Customer, limit: int, before=None) -> list[TimelineEntry]:
    rows = PointTransaction.objects.filter(account__customer=customer).select_related("order")
    if before is not None:
        rows = rows.filter(created_at__lt=before)
    return [
        TimelineEntry(
            at=txn.created_at, kind="points", id=txn.public_id, channel=txn.channel,
            title=_("Points %(kind)s %(points)+d") % {"kind": txn.get_kind_display(), "points": txn.points},
            detail={"kind": txn.kind, "points": txn.points, "order": txn.order.public_id if txn.order else None,
                    "reason": txn.reason},
        )
        for txn in rows.order_by("-created_at", "-pk")[:limit]
    ]  # fmt: skip


def customers_with_points_expiring(*, within_days: int, min_points: int = 1) -> QuerySet:
    """Ids of customers whose points expiring within `within_days` add up to at least `min_points`:
    a segment field for campaigns ("your points expire soon")."""
    now = timezone.now()
    return (
        PointLot.objects.filter(remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days))
        .values("account__customer_id")
        .annotate(points=Sum("remaining"))
        .filter(points__gte=min_points)
        .values_list("account__customer_id", flat=True)
    )


# --- Finance ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiabilityRow:
    month: datetime
    points: int
    yen: int


@dataclass(frozen=True)
class ActivityRow:
    month: datetime
    channel: str
    earned: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int
    shortfall: int


def points_liability() -> list[LiabilityRow]:
    """Outstanding points by month of expiry, and what they are worth (crm.money.POINT_VALUE_YEN)."""
    value = conf.point_value_yen()
    rows = (
        PointLot.objects.filter(remaining__gt=0)
        .annotate(month=TruncMonth("expires_at"))
        .values_list("month")
        .annotate(points=Sum("remaining"))
        .order_by("month")
    )
    return [LiabilityRow(month=month, points=points, yen=points * value) for month, points in rows]


def _sum_of(kind: str, *, sign: int = 1):
    return Coalesce(
        Sum(Case(When(kind=kind, then=F("points") * sign), default=Value(0), output_field=IntegerField())), Value(0)
    )


def points_activity(*, since: datetime | None = None) -> list[ActivityRow]:
    """Points issued, redeemed, expired (breakage), reversed and adjusted per month and channel."""
    rows = PointTransaction.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    rows = (
        rows.annotate(month=TruncMonth("created_at"))
        .values_list("month", "channel")
        .annotate(
            earned=_sum_of("earn"),
            redeemed=_sum_of("redeem", sign=-1),
            expired=_sum_of("expire", sign=-1),
            reversed=_sum_of("reverse"),
            adjusted=_sum_of("adjust"),
            shortfall=Coalesce(Sum("shortfall"), Value(0)),
        )
        .order_by("-month", "channel")
    )
    return [ActivityRow(*row) for row in rows]


# --- Reconciliation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    account_id: int
    customer_id: str
    balance: int
    ledger: int
    lots: int


def accounts_out_of_balance() -> list[Disagreement]:
    """Accounts whose cached balance, ledger sum and remaining lots are not all equal: two grouped
    scans joined to the accounts, one statement whatever the number of accounts."""
    sql = """
        SELECT a.id, c.public_id, a.balance, COALESCE(t.total, 0), COALESCE(l.total, 0)
        FROM loyalty_pointaccount a
        JOIN crm_customer c ON c.id = a.customer_id
        LEFT JOIN (SELECT account_id, SUM(points) AS total FROM loyalty_pointtransaction
                   GROUP BY account_id) t ON t.account_id = a.id
        LEFT JOIN (SELECT account_id, SUM(remaining) AS total FROM loyalty_pointlot
                   GROUP BY account_id) l ON l.account_id = a.id
        WHERE a.balance <> COALESCE(t.total, 0) OR a.balance <> COALESCE(l.total, 0)
        ORDER BY a.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [Disagreement(*row) for row in cursor.fetchall()]
