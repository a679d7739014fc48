"""Try-on slots: opening hours per store and weekday, slot length and capacity, the slots endpoint,
and bookings refused outside the hours (400 outside_opening_hours) or in a full slot (409 slot_full)."""

import datetime as dt

import pytest
from django.utils import timezone

from inventory.models import OpeningHours, Reservation, StockMovement, TryOnSettings

from .factories import CustomerFactory, ProductFactory, StoreFactory, next_slot, stock

pytestmark = pytest.mark.django_db

SLOTS = "/api/v1/inventory/try-on-slots/"
RESERVATIONS = "/api/v1/inventory/reservations/"


@pytest.fixture
def shop():
    store, product = StoreFactory(code="SHIBUYA"), ProductFactory(sku="COAT")
    stock(store, product, 10)
    return store, product


@pytest.fixture
def reader(api):
    return api("inventory:read")


@pytest.fixture
def writer(api):
    return api("inventory:write")


def book(writer, slot_start, customer=None):
    body = {"sku": "COAT", "store": "SHIBUYA", "quantity": 1, "kind": "try_on",
            "customer": (customer or CustomerFactory()).public_id, "slot_start": slot_start.isoformat()}  # fmt: skip
    return writer.post(RESERVATIONS, body, format="json")


def local(day, at):
    return timezone.make_aware(dt.datetime.combine(day, dt.time.fromisoformat(at)))


def test_a_store_without_its_own_hours_offers_half_hour_slots_from_ten_to_eight(reader, shop):
    day = timezone.localdate() + dt.timedelta(days=1)
    response = reader.get(SLOTS, {"store": "SHIBUYA", "date": day.isoformat()})
    assert response.status_code == 200
    slots = response.json()["results"]
    assert len(slots) == 20
    assert slots[0]["start"] == local(day, "10:00").isoformat() and slots[0]["end"] == local(day, "10:30").isoformat()
    assert slots[-1]["start"] == local(day, "19:30").isoformat()
    assert {s["free"] for s in slots} == {2}
    assert response.json()["next"] is None


def test_a_try_on_at_three_in_the_morning_is_refused_and_nothing_written(writer, shop):
    response = book(writer, next_slot(at="03:00"))
    assert response.status_code == 400
    assert response.json()["code"] == "outside_opening_hours"
    assert "slot_start" in response.json()["errors"]
    assert not Reservation.objects.exists() and StockMovement.objects.count() == 1


def test_a_time_between_two_slots_is_refused(writer, shop):
    response = book(writer, next_slot(at="10:15"))
    assert response.status_code == 400 and response.json()["code"] == "outside_opening_hours"
    assert "10:00" in response.json()["errors"]["slot_start"][0]


def test_opening_hours_and_slots_per_store_and_weekday(reader, writer, shop):
    store, _ = shop
    day = timezone.localdate() + dt.timedelta(days=1)
    OpeningHours.objects.create(store=store, weekday=day.weekday(), opens=dt.time(11), closes=dt.time(13))
    TryOnSettings.objects.create(store=store, slot_minutes=45, capacity=1)
    slots = reader.get(SLOTS, {"store": "SHIBUYA", "date": day.isoformat()}).json()["results"]
    assert [s["start"] for s in slots] == [local(day, "11:00").isoformat(), local(day, "11:45").isoformat()]
    closed_day = day + dt.timedelta(days=1)
    assert reader.get(SLOTS, {"store": "SHIBUYA", "date": closed_day.isoformat()}).json()["results"] == []
    closed = book(writer, local(closed_day, "11:00"))
    assert closed.status_code == 400 and closed.json()["code"] == "outside_opening_hours"
    assert book(writer, local(day, "10:00")).json()["code"] == "outside_opening_hours"  # before opening
    assert book(writer, local(day, "11:45")).status_code == 201


def test_a_full_slot_answers_409_and_a_cancelled_booking_frees_its_place(reader, writer, shop):
    store, _ = shop
    TryOnSettings.objects.create(store=store, slot_minutes=30, capacity=1)
    slot = next_slot(at="14:00")
    first = book(writer, slot)
    assert first.status_code == 201
    full = book(writer, slot)
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    assert Reservation.objects.count() == 1
    slots = reader.get(SLOTS, {"store": "SHIBUYA", "date": slot.date().isoformat()}).json()["results"]
    assert next(s["free"] for s in slots if s["start"] == slot.isoformat()) == 0
    writer.post(f"{RESERVATIONS}{first.json()['id']}/cancel/")
    assert book(writer, slot).status_code == 201


def test_slots_already_begun_have_no_place(reader, shop):
    today = timezone.localdate()
    slots = reader.get(SLOTS, {"store": "SHIBUYA", "date": today.isoformat()}).json()["results"]
    now = timezone.now()
    assert all(s["free"] == 0 for s in slots if dt.datetime.fromisoformat(s["start"]) <= now)


SOON = (dt.date.today() + dt.timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date": SOON}, "store"),
        ({"store": "SHIBUYA"}, "date"),
        ({"store": "SHIBUYA", "date": "tomorrow"}, "date"),
        ({"store": "SHIBUYA", "date": "2026-02-30"}, "date"),
        ({"store": "NOWHERE", "date": SOON}, "store"),
        ({"store": "EC-WH", "date": SOON}, "store"),
        ({"store": "SHIBUYA", "date": "0222-02-03"}, "date"),  # once a 500-worthy offset (+09:18:59)
        ({"store": "SHIBUYA", "date": (dt.date.today() + dt.timedelta(days=800)).isoformat()}, "date"),
    ],
)
def test_a_bad_slots_query_names_the_parameter(reader, shop, query, field):
    response = reader.get(SLOTS, query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_slots_need_the_inventory_read_scope(api, shop):
    assert api("orders:write").get(SLOTS, {"store": "SHIBUYA", "date": "2026-12-01"}).status_code == 403


def test_an_order_within_fourteen_days_after_a_try_on_is_assisted_by_that_store(shop):
    from crm.services import record_order
    from inventory.tasks import mark_try_on_assists_task

    store, product = shop
    customer = CustomerFactory()
    Reservation.objects.create(
        kind="try_on",
        status="fulfilled",
        customer=customer,
        store=store,
        product=product,
        quantity=1,
        pickup_code="TRY001",
        slot_start=timezone.now() - dt.timedelta(days=3),
        expires_at=timezone.now(),
    )  # fmt: skip  (the customer came in)

    def buy(ref, at, who=customer):
        line = {"product": product, "quantity": 1, "unit_price": 100}
        order, _ = record_order(
            source="pos", external_ref=ref, channel="store", store=store, ordered_at=at, customer=who, lines=[line]
        )
        return order

    within, later, other = (
        buy("R-1", timezone.now()),
        buy("R-2", timezone.now() + dt.timedelta(days=12)),  # 15 days after the try-on
        buy("R-3", timezone.now(), who=CustomerFactory()),
    )
    assert mark_try_on_assists_task.delay().get() == 1
    assert mark_try_on_assists_task.delay().get() == 0  # already marked
    for order in (within, later, other):
        order.refresh_from_db()
    assert (within.assisted_by, later.assisted_by, other.assisted_by) == (store, None, None)
