"""Who enters a journey on this run, and on which occasion: one query per trigger (set-based), never
one per customer. Each trigger is a query of rows (cid: customer pk, occasion); the occasion makes the
entry unique (a customer's birthday of one year, one order, one lapse), so that a re-run, or a second
worker, enrols nobody twice (unique journey, customer, occasion; INSERT … ON CONFLICT DO NOTHING)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.apps import apps
from django.db.models import CharField, Exists, F, Max, Min, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Left
from django.utils import timezone

from crm.models import Customer, Order

from ..models import Journey
from ..segments import segment_customers

Trigger = Journey.Trigger
DEFAULT_DAYS = {
    Trigger.POINTS_EXPIRING: 30,
    Trigger.ORDER_RECORDED: 7,
    Trigger.NO_PURCHASE: 180,
    Trigger.TRY_ON_NO_PURCHASE: 7,
}


def trigger_days(journey: Journey) -> int:
    return journey.trigger_days or DEFAULT_DAYS.get(journey.trigger, 0)


def entrants(journey: Journey, *, now: datetime) -> QuerySet:
    """A query of (cid, occasion) rows: the customers the trigger names now, before removing those
    already enrolled on that occasion (the insert does that)."""
    segment_pks = segment_customers(journey.segment.rules, now=now).values("pk") if journey.segment_id else None

    def eligible(path: str) -> Q:
        prefix = f"{path}__" if path else ""
        q = Q(**{f"{prefix}merged_into__isnull": True})
        if segment_pks is not None:
            q &= Q(**{f"{path or 'pk'}__in": segment_pks})
        return q

    return _TRIGGERS[journey.trigger](journey, now, trigger_days(journey), eligible)


def _iso(expression):
    return Cast(expression, CharField())


def _customers(eligible: Callable, q: Q, occasion: str) -> QuerySet:
    return Customer.objects.filter(eligible("") & q).values(cid=F("pk"), occasion=Value(occasion))


def _customer_created(journey, now, days, eligible):
    return _customers(eligible, Q(created_at__gte=journey.activated_at, created_at__lte=now), "welcome")


def _birthday_month(journey, now, days, eligible):
    local = timezone.localtime(now)
    return _customers(eligible, Q(birth_date__month=local.month), f"birthday-{local.year}")


def _segment_entered(journey, now, days, eligible):
    return _customers(eligible, Q(), "segment")


def _points_expiring(journey, now, days, eligible):
    lot = apps.get_model("loyalty", "PointLot")
    # One reminder per customer and month of their next expiry.
    return (
        lot.objects.filter(eligible("account__customer"), remaining__gt=0, expires_at__gt=now,
                           expires_at__lte=now + timedelta(days=days))
        .values(cid=F("account__customer"))
        .annotate(first=Min("expires_at"))
        .values("cid", occasion=Concat(Value("expiring-"), Left(_iso(F("first")), 7)))
    )  # fmt: skip


def _order_recorded(journey, now, days, eligible):
    # Orders recorded since the journey went live, once `days` have passed; fully returned orders get nothing.
    return (
        Order.objects.filter(eligible("customer"), customer__isnull=False, created_at__gte=journey.activated_at,
                             ordered_at__lte=now - timedelta(days=days))
        .exclude(status=Order.Status.RETURNED)
        .values(cid=F("customer"), occasion=F("public_id"))
    )  # fmt: skip


def _no_purchase(journey, now, days, eligible):
    # The occasion is the last purchase: a customer who comes back and lapses again enters again.
    return (
        Order.objects.filter(eligible("customer"), customer__isnull=False)
        .values(cid=F("customer"))
        .annotate(last=Max("ordered_at"))
        .filter(last__lte=now - timedelta(days=days))
        .values("cid", occasion=Concat(Value("lapsed-"), Left(_iso(F("last")), 10)))
    )


def _try_on_no_purchase(journey, now, days, eligible):
    reservation = apps.get_model("inventory", "Reservation")
    bought_since = Order.objects.filter(customer=OuterRef("customer"), ordered_at__gte=OuterRef("slot_start"))
    return (
        reservation.objects.filter(
            eligible("customer"), kind=reservation.Kind.TRY_ON, slot_start__lte=now - timedelta(days=days),
            slot_start__gte=journey.activated_at - timedelta(days=days),
        )
        .exclude(status=reservation.Status.CANCELLED)
        .filter(~Exists(bought_since))
        .values(cid=F("customer"), occasion=F("public_id"))
    )  # fmt: skip


_TRIGGERS = {
    Trigger.CUSTOMER_CREATED: _customer_created,
    Trigger.BIRTHDAY_MONTH: _birthday_month,
    Trigger.POINTS_EXPIRING: _points_expiring,
    Trigger.ORDER_RECORDED: _order_recorded,
    Trigger.NO_PURCHASE: _no_purchase,
    Trigger.TRY_ON_NO_PURCHASE: _try_on_no_purchase,
    Trigger.SEGMENT_ENTERED: _segment_entered,
}
