"""Segment fields that read other apps: loyalty (points balance, tier, points expiring), the contact hub
(open tickets) and reservations (no-shows). Campaigns may read every app (ARCHITECTURE.md) but never
writes to them; each field is registered only when the owning app's model exists."""

from datetime import timedelta

from django.apps import apps
from django.db.models import Exists, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .segments import EVERYONE, FieldSpec, Filter, ValueSource, _compare, register_field, register_source

LOYALTY, SERVICE = _("Loyalty"), _("Service and reservations")
POINTS = _("points")
EXPIRING_DAYS = 30  # `points_expiring` without within_days, and {{ customer.points_expiring }} in mails


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


PointAccount, PointLot, Tier = _model("loyalty.PointAccount"), _model("loyalty.PointLot"), _model("loyalty.Tier")
Ticket, Reservation = _model("channels_hub.Ticket"), _model("inventory.Reservation")


def _points_balance(op, value, filters, now):
    """A customer without an account has 0 points. Written as EXISTS (a semi-join PostgreSQL can
    plan from either side) rather than COALESCE((SELECT balance …), 0) compared with the value, which
    it can only evaluate once per customer: ≥ N (N > 0) holds for holders of an account with at
    least N; ≤ N holds unless the (one) account holds more than N."""
    if op == "gte":
        if value <= 0:
            return EVERYONE
        return Q(Exists(PointAccount.objects.filter(customer=OuterRef("pk"), balance__gte=value)))
    return ~Q(Exists(PointAccount.objects.filter(customer=OuterRef("pk"), balance__gt=value)))


def _tier(op, value, filters, now):
    codes = list(value) if op == "in" else [value]
    q = Q(Exists(PointAccount.objects.filter(customer=OuterRef("pk"), tier__code__in=codes)))
    # Customers without an account (or a tier) are on the base tier, as loyalty's summaries say.
    base = Tier.objects.order_by("min_spend").values_list("code", flat=True).first()
    if base in codes:
        q |= ~Q(Exists(PointAccount.objects.filter(customer=OuterRef("pk"), tier__isnull=False)))
    return q


def _expiring_lots(now, days):
    return PointLot.objects.filter(remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=days))


def _points_expiring(op, value, filters, now):
    if value <= 0:  # `gte` only: everyone has at least 0 points expiring
        return EVERYONE
    lots = _expiring_lots(now, filters.get("within_days", EXPIRING_DAYS)).filter(account__customer=OuterRef("pk"))
    total = lots.order_by().values("account__customer").annotate(v=Sum("remaining")).values("v")
    return _compare(Coalesce(Subquery(total, output_field=IntegerField()), Value(0)), op, value)


def expiring_points(customer_pks: list[int], *, days: int = EXPIRING_DAYS) -> dict[int, int]:
    """{customer pk: points expiring within `days`} for a batch of customers, in one query."""
    if PointLot is None or not customer_pks:
        return {}
    rows = (
        _expiring_lots(timezone.now(), days)
        .filter(account__customer_id__in=customer_pks)
        .values("account__customer_id")
        .annotate(v=Sum("remaining"))
        .values_list("account__customer_id", "v")
    )
    return dict(rows)


def _open_ticket(op, value, filters, now):
    tickets = Ticket.objects.filter(customer=OuterRef("pk"), status__in=Ticket.OPEN_STATUSES)
    if "category" in filters:
        tickets = tickets.filter(category=filters["category"])
    return Q(Exists(tickets)) if value else ~Q(Exists(tickets))


def _search_tiers(text: str, limit: int) -> list[tuple[str, str]]:
    tiers = Tier.objects.order_by("min_spend")
    if text:
        tiers = tiers.filter(Q(code__icontains=text) | Q(name__icontains=text))
    return [(code, name) for code, name in tiers.values_list("code", "name")[:limit]]


def _known_tiers(values: set[str]) -> set[str]:
    return set(Tier.objects.filter(code__in=values).values_list("code", flat=True))


def _search_ticket_categories(text: str, limit: int) -> list[tuple[str, str]]:
    """Ticket categories are free text that routing rules and agents set: those in use are the choices."""
    categories = Ticket.objects.exclude(category="").order_by("category").values_list("category", flat=True)
    if text:
        categories = categories.filter(category__icontains=text)
    return [(c, c) for c in categories.distinct()[:limit]]


def _known_ticket_categories(values: set[str]) -> set[str]:
    return set(Ticket.objects.filter(category__in=values).values_list("category", flat=True).distinct())


def _no_show(op, value, filters, now):
    """A reservation (pickup, hold, try-on) that expired without being handed over."""
    missed = Reservation.objects.filter(customer=OuterRef("pk"), status=Reservation.Status.EXPIRED)
    if "within_days" in filters:
        missed = missed.filter(expires_at__gte=now - timedelta(days=filters["within_days"]))
    return Q(Exists(missed)) if value else ~Q(Exists(missed))


if PointAccount is not None and Tier is not None:
    register_field(
        FieldSpec("points_balance", _("Points balance"), ("gte", "lte"), "int", _points_balance, group=LOYALTY,
                  unit=POINTS)
    )  # fmt: skip
    register_field(FieldSpec("tier", _("Tier"), ("eq", "in"), "str", _tier, group=LOYALTY, source="tier"))
    register_source(ValueSource("tier", _("tier"), _search_tiers, _known_tiers))
if PointLot is not None:
    register_field(
        FieldSpec(
            "points_expiring", _("Points expiring"), ("gte",), "int", _points_expiring,
            {"within_days": Filter("days")}, group=LOYALTY, unit=POINTS,
        )
    )  # fmt: skip
if Ticket is not None:
    register_field(
        FieldSpec(
            "open_ticket", _("Open ticket"), ("eq",), "bool", _open_ticket,
            {"category": Filter("str", source="ticket_category")}, group=SERVICE,
        )
    )  # fmt: skip
    register_source(
        ValueSource("ticket_category", _("ticket category"), _search_ticket_categories, _known_ticket_categories)
    )
if Reservation is not None:
    register_field(
        FieldSpec("no_show", _("Missed a reservation"), ("eq",), "bool", _no_show, {"within_days": Filter("days")},
                  group=SERVICE)
    )  # fmt: skip
