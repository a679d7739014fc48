"""Try-on slots (試着予約): a store offers fittings inside its opening hours, in slots of its own
length, each taking a limited number of customers.

A store without opening hours of its own uses INVENTORY_DEFAULT_OPENING_HOURS (10:00–20:00 every
day) and without try-on settings 30-minute slots for 2 customers, so that a booking at 03:00 is
refused everywhere from the start. Slots begin at opening time; a booking names a slot's start.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.exceptions import DomainError
from crm.models import Store
from crm.services import mark_orders_assisted

from ..models import OpeningHours, Reservation, TryOnSettings

DEFAULT_SLOT_MINUTES = 2 * 15
ASSIST_WINDOW = timedelta(days=14)
DEFAULT_CAPACITY = 2
# A try-on that was handed over still took its place in the slot; a cancelled or expired one did not.
HOLDS_A_PLACE = (Reservation.Status.ACTIVE, Reservation.Status.FULFILLED)


class OutsideOpeningHours(DomainError):
    code = "outside_opening_hours"
    status = 400
    title = _("The store is not open for try-ons at this time.")


class SlotFull(DomainError):
    code = "slot_full"
    status = 409
    title = _("This try-on slot is fully booked.")


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    free: int


def default_hours() -> tuple[time, time]:
    opens, closes = getattr(settings, "INVENTORY_DEFAULT_OPENING_HOURS", ("10:00", "20:00"))
    return time.fromisoformat(opens), time.fromisoformat(closes)


def hours_on(store: Store, day: date) -> tuple[time, time] | None:
    """(opens, closes) on that local day, or None when the store is closed."""
    rows = {row.weekday: row for row in OpeningHours.objects.filter(store=store)}
    if not rows:
        return default_hours()
    row = rows.get(day.weekday())
    return (row.opens, row.closes) if row else None


def try_on_settings(store: Store) -> tuple[int, int]:
    found = TryOnSettings.objects.filter(store=store).values_list("slot_minutes", "capacity").first()
    return found or (DEFAULT_SLOT_MINUTES, DEFAULT_CAPACITY)


def slot_starts(store: Store, day: date) -> list[datetime]:
    hours = hours_on(store, day)
    if hours is None:
        return []
    minutes, _capacity = try_on_settings(store)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, hours[0]), tz)
    close = timezone.make_aware(datetime.combine(day, hours[1]), tz)
    starts = []
    while start + timedelta(minutes=minutes) <= close:
        starts.append(start)
        start += timedelta(minutes=minutes)
    return starts


def check_try_on_slot(*, store: Store, slot_start: datetime) -> None:
    """OutsideOpeningHours unless `slot_start` is the start of one of the store's slots that day."""
    local = timezone.localtime(slot_start)
    starts = slot_starts(store, local.date())
    if slot_start in starts:
        return
    if not starts:
        raise OutsideOpeningHours(
            _("The store is closed on this day."), errors={"slot_start": [_("The store is closed on this day.")]}
        )
    first, last = timezone.localtime(starts[0]), timezone.localtime(starts[-1])
    message = _("Choose a slot from %(first)s to %(last)s, every %(minutes)d minutes.") % {
        "first": f"{first:%H:%M}", "last": f"{last:%H:%M}", "minutes": try_on_settings(store)[0],
    }  # fmt: skip
    raise OutsideOpeningHours(message, errors={"slot_start": [message]})


def lock_try_on_slots(store: Store) -> int:
    """Serialise bookings of one store's slots (a row lock on its try-on settings, taken before any
    stock level) and return the capacity per slot."""
    TryOnSettings.objects.get_or_create(
        store=store, defaults={"slot_minutes": DEFAULT_SLOT_MINUTES, "capacity": DEFAULT_CAPACITY}
    )
    return TryOnSettings.objects.select_for_update().get(store=store).capacity


def check_slot_free(*, store: Store, slot_start: datetime, capacity: int) -> None:
    booked = Reservation.objects.filter(
        store=store, kind=Reservation.Kind.TRY_ON, slot_start=slot_start, status__in=HOLDS_A_PLACE
    ).count()
    if booked >= capacity:
        raise SlotFull(errors={"slot_start": [_("No place left in this slot; choose another.")]})


def mark_try_on_assists(*, now: datetime | None = None) -> int:
    """Beat (hourly): orders by a customer in the 14 days after a try-on they came to are marked as
    assisted by that store (the latest such try-on), for the insights KPI. Run apart from the sale, so
    that recording an order reads nothing more; safe to run again (marked orders are skipped)."""
    now = now or timezone.now()
    marked = 0
    came = (
        Reservation.objects.filter(
            kind=Reservation.Kind.TRY_ON, status=Reservation.Status.FULFILLED,
            slot_start__gte=now - ASSIST_WINDOW - timedelta(days=1), slot_start__lte=now,
        )
        .order_by("-slot_start")  # the latest try-on before an order claims it
        .values_list("customer_id", "store_id", "slot_start")
    )  # fmt: skip
    for customer_id, store_id, slot_start in came:
        marked += mark_orders_assisted(
            customer_id=customer_id, store_id=store_id, since=slot_start, until=slot_start + ASSIST_WINDOW
        )
    return marked
