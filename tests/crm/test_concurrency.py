"""Real concurrency against PostgreSQL: threads with their own connections, released together."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from crm.models import ChannelIdentity, Customer, Order, OrderReturn
from crm.services import create_api_key
from tests.concurrency import run_concurrently

from .factories import CustomerFactory, ProductFactory, StoreFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def raw_key():
    return create_api_key(name="pos", scopes=["orders:write", "customers:write", "customers:read"])[1]


def client(raw_key):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return c


def test_twenty_threads_posting_the_same_order_record_exactly_one(raw_key):
    StoreFactory(code="SHIBUYA")
    ProductFactory(sku="COAT-1")
    body = {
        "source": "pos", "external_ref": "R-1", "channel": "store", "store": "SHIBUYA",
        "ordered_at": "2026-11-20T10:00:00+09:00", "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 1000}],
    }  # fmt: skip
    responses = run_concurrently(lambda i: client(raw_key).post("/api/v1/orders/", body, format="json"), 20)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Order.objects.count() == 1


def test_the_same_idempotency_key_from_ten_threads_makes_one_return(raw_key):
    from crm.services import record_order

    store, product = StoreFactory(), ProductFactory(sku="A")
    order, _ = record_order(
        source="pos", external_ref="R-2", channel="store", store=store, ordered_at=dt.datetime.now(dt.UTC),
        lines=[{"product": product, "quantity": 10, "unit_price": 100}],
    )  # fmt: skip
    url = f"/api/v1/orders/{order.public_id}/returns/"
    body = {"lines": [{"sku": "A", "quantity": 1}]}
    responses = run_concurrently(
        lambda i: client(raw_key).post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="ret-7"), 10
    )
    # the duplicates wait for the first at the key's unique index, then answer with its stored answer
    assert [r.status_code for r in responses] == [201] * 10
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") != "true") == 1
    assert OrderReturn.objects.count() == 1
    assert len({r.json()["id"] for r in responses}) == 1
    order.refresh_from_db()
    assert order.lines.get().returned_quantity == 1


def test_ten_threads_creating_customers_with_the_same_identity_make_one(raw_key):
    body = {"family_name": "並行", "identities": [{"channel": "line", "external_id": "U-race"}]}
    responses = run_concurrently(lambda i: client(raw_key).post("/api/v1/customers/", body, format="json"), 10)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, statuses
    assert Customer.objects.count() == 1
    assert ChannelIdentity.objects.count() == 1


def test_ten_threads_linking_the_same_account_link_it_once(raw_key):
    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1))
    body = {
        "channel": "ec",
        "external_id": "ec-race",
        "member_number": customer.member_number,
        "birth_date": "1990-04-01",
    }
    responses = run_concurrently(lambda i: client(raw_key).post("/api/v1/customers/link/", body, format="json"), 10)
    assert [r.status_code for r in responses] == [200] * 10
    assert ChannelIdentity.objects.filter(channel="ec", external_id="ec-race").count() == 1


@pytest.mark.parametrize("last", ["unit", "points"])
def test_the_same_order_resent_while_the_first_takes_the_last_unit_or_points_gets_the_order(raw_key, last):
    """A POS or EC site that resends a slow order (no Idempotency-Key) must get the order, not a refusal
    because the first copy took the last unit in stock or the last points."""
    from inventory.models import StockLevel
    from loyalty.models import PointAccount
    from tests.loyalty.factories import award

    from .factories import WarehouseFactory, stock

    warehouse = WarehouseFactory()
    product = ProductFactory(sku="COAT-1", price=20000)
    stock(product, warehouse, quantity=1 if last == "unit" else 100)
    customer = CustomerFactory()
    award(customer, 300)
    body = {
        "source": "ec", "external_ref": "EC-1", "channel": "ec", "customer": customer.public_id,
        "ordered_at": "2026-11-20T10:00:00+09:00", "redeem_points": 300 if last == "points" else 0,
        "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}],
    }  # fmt: skip
    responses = run_concurrently(lambda i: client(raw_key).post("/api/v1/orders/", body, format="json"), 8)
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [r.content for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Order.objects.count() == 1
    assert StockLevel.objects.get(store=warehouse, product=product).on_hand == (0 if last == "unit" else 99)
    assert PointAccount.objects.get(customer=customer).balance >= 0
