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
