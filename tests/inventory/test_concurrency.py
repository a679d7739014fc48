"""Real concurrency against PostgreSQL: threads with their own connections, released together."""

import pytest
from rest_framework.test import APIClient

from crm.models import Order
from crm.services import create_api_key
from inventory.models import Reservation, StockLevel
from inventory.selectors import stock_mismatches
from inventory.services import create_reservation
from tests.concurrency import run_concurrently

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_hundred_threads_reserving_ten_units_make_exactly_ten_reservations():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 10)
    customers = [CustomerFactory() for _ in range(100)]

    def reserve(i):
        return create_reservation(customer=customers[i], store=store, product=product, quantity=1, kind="hold")

    results = run_concurrently(reserve, 100)
    made = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if not isinstance(r, Reservation)]
    assert len(made) == 10
    assert {type(e).__name__ for e in refused} == {"OutOfStock"}
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved, level.available) == (10, 10, 0)
    assert Reservation.objects.filter(status="active").count() == 10
    assert stock_mismatches() == []


def test_concurrent_ec_orders_for_the_last_units_never_oversell():
    warehouse, store, product = WarehouseFactory(), StoreFactory(code="S1"), ProductFactory(sku="LAST")
    stock(warehouse, product, 3)
    stock(store, product, 2)
    _, raw = create_api_key(name="ec", scopes=["orders:write"])

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        body = {
            "source": "ec", "external_ref": f"EC-{i}", "channel": "ec", "ordered_at": "2026-11-20T10:00:00+09:00",
            "lines": [{"sku": "LAST", "quantity": 1, "unit_price": 5000}],
        }  # fmt: skip
        return client.post("/api/v1/orders/", body, format="json")

    responses = run_concurrently(post, 20)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 15, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    assert Order.objects.count() == 5
    assert sorted(r.json()["fulfilled_from"] for r in responses if r.status_code == 201) == ["EC-WH"] * 3 + ["S1"] * 2
    assert list(StockLevel.objects.values_list("on_hand", flat=True)) == [0, 0]
    assert stock_mismatches() == []


def test_concurrent_hand_over_and_cancel_of_one_reservation_do_one_of_them():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    rsv = create_reservation(customer=CustomerFactory(), store=store, product=product, quantity=1, kind="hold")
    from inventory.services import cancel_reservation, fulfil_reservation

    def act(i):
        return (fulfil_reservation if i % 2 else cancel_reservation)(reservation=rsv)

    run_concurrently(act, 10)
    rsv.refresh_from_db()
    level = StockLevel.objects.get()
    assert level.reserved == 0
    assert level.on_hand == (0 if rsv.status == "fulfilled" else 1)
    assert stock_mismatches() == []


def test_competing_ec_orders_from_two_prefectures_ship_from_two_stores_without_deadlock_or_oversell():
    """The EC warehouse is empty; Tokyo and Osaka stores each hold both products. Orders from Tokyo
    customers prefer the Tokyo store and Osaka's the Osaka store, so when one store runs short each
    order needs the other one's rows: locking stores one at a time, they deadlocked (a 500 while stock
    existed). Every candidate row is now locked in one pk-ordered statement."""
    from crm.models import Customer
    from inventory.services import ensure_stock_levels

    warehouse = WarehouseFactory()
    tokyo, osaka = StoreFactory(code="TKY", prefecture="東京都"), StoreFactory(code="OSK", prefecture="大阪府")
    coat, scarf = ProductFactory(sku="COAT"), ProductFactory(sku="SCARF")
    ensure_stock_levels([(warehouse.pk, coat.pk), (warehouse.pk, scarf.pk)])
    for store in (tokyo, osaka):
        stock(store, coat, 5)
        stock(store, scarf, 5)
    customers = [CustomerFactory(prefecture="東京都" if i % 2 else "大阪府") for i in range(30)]
    _, raw = create_api_key(name="ec", scopes=["orders:write"])

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        # lines in opposite order for the two prefectures, as two baskets filled differently
        lines = [
            {"sku": "COAT", "quantity": 1, "unit_price": 9000},
            {"sku": "SCARF", "quantity": 1, "unit_price": 3000},
        ]
        body = {
            "source": "ec", "external_ref": f"EC-{i}", "channel": "ec", "ordered_at": "2026-11-20T10:00:00+09:00",
            "customer": customers[i].public_id, "lines": lines if i % 2 else lines[::-1],
        }  # fmt: skip
        return client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{i}")

    responses = run_concurrently(post, 30)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 20, statuses  # no 5xx: no deadlock
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    shipped = sorted(r.json()["fulfilled_from"] for r in responses if r.status_code == 201)
    assert shipped == ["OSK"] * 5 + ["TKY"] * 5
    assert Order.objects.count() == 10
    assert sorted(StockLevel.objects.values_list("on_hand", flat=True)) == [0] * 6  # nothing oversold
    assert stock_mismatches() == []
    assert Customer.objects.count() == 30


def test_two_ec_orders_from_two_prefectures_racing_for_each_others_store_both_ship():
    """Two orders, released together, each finding its own prefecture's store short of one product."""
    from inventory.services import ensure_stock_levels

    warehouse = WarehouseFactory()
    tokyo, osaka = StoreFactory(code="TKY", prefecture="東京都"), StoreFactory(code="OSK", prefecture="大阪府")
    coat, scarf = ProductFactory(sku="COAT"), ProductFactory(sku="SCARF")
    ensure_stock_levels([(warehouse.pk, coat.pk), (warehouse.pk, scarf.pk)])
    stock(tokyo, coat, 1)  # Tokyo has coats only, Osaka has both: both orders must ship from Osaka
    stock(osaka, coat, 2)
    stock(osaka, scarf, 2)
    buyers = [CustomerFactory(prefecture="東京都"), CustomerFactory(prefecture="大阪府")]
    _, raw = create_api_key(name="ec", scopes=["orders:write"])

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        body = {
            "source": "ec", "external_ref": f"EC-{i}", "channel": "ec", "ordered_at": "2026-11-20T10:00:00+09:00",
            "customer": buyers[i].public_id,
            "lines": [{"sku": "COAT", "quantity": 1, "unit_price": 9000},
                      {"sku": "SCARF", "quantity": 1, "unit_price": 3000}],
        }  # fmt: skip
        return client.post("/api/v1/orders/", body, format="json")

    responses = run_concurrently(post, 2)
    assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
    assert {r.json()["fulfilled_from"] for r in responses} == {"OSK"}
    assert StockLevel.objects.get(store=osaka, product=coat).on_hand == 0
    assert StockLevel.objects.get(store=tokyo, product=coat).on_hand == 1
    assert stock_mismatches() == []
