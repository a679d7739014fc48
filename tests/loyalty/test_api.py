"""Loyalty endpoints (shared/API.md) and points through the Orders endpoints."""

import pytest

from crm.models import Order
from crm.services import merge_customers
from loyalty.models import PointAccount, PointTransaction
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory

from .factories import award

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(api):
    return api("loyalty:read")


@pytest.fixture
def writer(api):
    return api("loyalty:write", "loyalty:read")


@pytest.fixture
def customer():
    return CustomerFactory()


def url(customer, action=""):
    return f"/api/v1/loyalty/{customer.public_id}/" + (f"{action}/" if action else "")


def test_balance_with_tier_and_expiring_lots(reader, customer):
    award(customer, 300)
    award(customer, 200)
    body = reader.get(url(customer)).json()
    assert body["balance"] == 500 and body["tier"] == "regular" and body["customer"] == customer.public_id
    assert sum(e["points"] for e in body["expiring"]) == 500
    assert body["expiring"][0]["expires_at"].endswith("+09:00")


def test_a_customer_without_points_has_zero_and_the_base_tier(reader, customer):
    assert reader.get(url(customer)).json() == {
        "customer": customer.public_id, "balance": 0, "tier": "regular", "expiring": [],
    }  # fmt: skip


def test_balance_is_two_statements(reader, customer, django_assert_num_queries):
    award(customer, 300)
    reader.get(url(customer))  # the key and the tiers loaded into this process's caches
    with django_assert_num_queries(2):  # the customer, then the account with its open lots by expiry
        assert reader.get(url(customer)).json()["balance"] == 300
    other = CustomerFactory()
    with django_assert_num_queries(2):  # no account: the same two statements, no row
        assert reader.get(url(other)).json() == {"customer": other.public_id, "balance": 0, "tier": "regular",
                                                 "expiring": []}  # fmt: skip


def test_a_tier_renamed_in_the_admin_shows_on_the_next_read(reader, customer):
    from loyalty.models import Tier

    assert reader.get(url(customer)).json()["tier"] == "regular"
    base = Tier.objects.order_by("min_spend").first()
    base.code = "basic"
    base.save()
    assert reader.get(url(customer)).json()["tier"] == "basic"


def test_unknown_customer_is_404(reader):
    response = reader.get("/api/v1/loyalty/cus_NOPE/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_merged_id_answers_for_the_survivor(writer):
    winner, loser = CustomerFactory(), CustomerFactory()
    award(loser, 70)
    merge_customers(winner=winner, loser=loser, reason="同一人物")
    body = writer.get(url(loser)).json()
    assert body["customer"] == winner.public_id and body["balance"] == 70
    response = writer.post(url(loser, "redeem"), {"points": 20, "reference": "R1", "channel": "ec"}, format="json")
    assert response.status_code == 201 and response.json()["balance"] == 50


def test_scopes_are_enforced(api, customer):
    assert api("customers:read").get(url(customer)).status_code == 403
    assert api("loyalty:read").post(url(customer, "redeem"), {}, format="json").status_code == 403


def test_transactions_are_paginated_newest_first(reader, customer, django_assert_max_num_queries):
    for i in range(5):
        award(customer, i + 1, reference=f"A{i}")
    with django_assert_max_num_queries(6):
        page = reader.get(url(customer, "transactions"), {"limit": 3}).json()
    assert [t["points"] for t in page["results"]] == [5, 4, 3]
    assert page["results"][0]["id"].startswith("ptx_") and page["results"][0]["kind"] == "adjust"
    rest = reader.get(page["next"]).json()
    assert [t["points"] for t in rest["results"]] == [2, 1] and rest["next"] is None


def test_redeem_answers_201_with_the_transaction_and_balance(writer, customer):
    award(customer, 100)
    StoreFactory(code="SHIBUYA")
    body = {"points": 40, "reference": "POS-77", "channel": "store", "store": "SHIBUYA"}
    response = writer.post(url(customer, "redeem"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["balance"] == 60
    assert data["transaction"]["points"] == -40 and data["transaction"]["store"] == "SHIBUYA"
    again = writer.post(url(customer, "redeem"), body, format="json")
    assert again.status_code == 200 and again.json()["transaction"]["id"] == data["transaction"]["id"]
    assert PointAccount.objects.get(customer=customer).balance == 60


def test_redeem_replayed_with_the_idempotency_key_answers_the_original(writer, customer):
    award(customer, 100)
    body = {"points": 10, "reference": "EC-5", "channel": "ec"}
    first = writer.post(url(customer, "redeem"), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = writer.post(url(customer, "redeem"), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    other = writer.post(url(customer, "redeem"), {**body, "points": 11}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_conflict"
    assert PointTransaction.objects.filter(kind="redeem").count() == 1


def test_redeem_more_than_the_balance_is_409_and_writes_nothing(writer, customer):
    award(customer, 10)
    response = writer.post(url(customer, "redeem"), {"points": 11, "reference": "X", "channel": "app"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points" and response.json()["balance"] == 10
    assert PointTransaction.objects.filter(kind="redeem").count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"points": 0}, "points"),
        ({"points": -5}, "points"),
        ({"points": 1.5}, "points"),
        ({"points": "10"}, "points"),
        ({"points": True}, "points"),
        ({"points": 10_000_001}, "points"),
        ({"points": None}, "points"),
        ({"channel": "phone"}, "channel"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 65}, "reference"),
        ({"store": "NOWHERE"}, "store"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_redeem_with_bad_input_is_400_naming_the_field_and_writes_nothing(writer, customer, change, field):
    award(customer, 100)
    body = {"points": 10, "reference": "R", "channel": "store", **change}
    response = writer.post(url(customer, "redeem"), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and field in response.json()["errors"]
    assert PointTransaction.objects.filter(kind="redeem").count() == 0
    assert PointAccount.objects.get(customer=customer).balance == 100


def test_adjust_adds_and_takes_points_with_a_reason(writer, customer):
    response = writer.post(url(customer, "adjust"), {"points": 500, "reason": "お詫びポイント"}, format="json")
    assert response.status_code == 201 and response.json()["balance"] == 500
    response = writer.post(url(customer, "adjust"), {"points": -200, "reason": "誤付与の訂正"}, format="json")
    assert response.status_code == 201 and response.json()["balance"] == 300
    assert response.json()["transaction"]["reason"] == "誤付与の訂正"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 10}, "reason"),
        ({"points": 10, "reason": ""}, "reason"),
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": 2.5, "reason": "x"}, "points"),
        ({"points": -10_000_001, "reason": "x"}, "points"),
    ],
)
def test_adjust_with_bad_input_is_400_and_writes_nothing(writer, customer, body, field):
    response = writer.post(url(customer, "adjust"), body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert PointTransaction.objects.count() == 0


def test_adjust_below_zero_is_409(writer, customer):
    award(customer, 5)
    response = writer.post(url(customer, "adjust"), {"points": -6, "reason": "訂正"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "insufficient_points"
    assert PointAccount.objects.get(customer=customer).balance == 5


# --- Through the Orders endpoints ---------------------------------------------------------------


@pytest.fixture
def pos(api):
    return api("orders:write", "customers:read")


def order_body(customer, **overrides):
    return {
        "source": "pos", "external_ref": "R-1", "channel": "store", "store": "SHIBUYA",
        "customer": customer.public_id, "ordered_at": "2026-11-20T14:05:00+09:00",
        "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000},
                  {"sku": "SCARF-1", "quantity": 2, "unit_price": 5000}],
        **overrides,
    }  # fmt: skip


@pytest.fixture
def shop():
    StoreFactory(code="SHIBUYA")
    ProductFactory(sku="COAT-1")
    ProductFactory(sku="SCARF-1")


def test_recording_an_order_earns_points_and_shows_the_balance(pos, shop, customer):
    response = pos.post("/api/v1/orders/", order_body(customer), format="json")
    assert response.status_code == 201
    assert response.json()["points_earned"] == 300 and response.json()["points_balance"] == 300
    assert pos.get(f"/api/v1/customers/{customer.public_id}/").json()["points_balance"] == 300


def test_an_order_redeeming_points_pays_part_with_them(pos, shop, customer):
    award(customer, 1000)
    response = pos.post("/api/v1/orders/", order_body(customer, redeem_points=1000), format="json")
    body = response.json()
    assert response.status_code == 201
    assert (body["total"], body["points_redeemed"], body["points_earned"]) == (29000, 1000, 290)
    assert body["points_balance"] == 290


def test_an_order_redeeming_more_than_the_balance_is_409_and_no_order_is_written(pos, shop, customer):
    award(customer, 999)
    response = pos.post("/api/v1/orders/", order_body(customer, redeem_points=1000), format="json")
    assert response.status_code == 409 and response.json()["code"] == "insufficient_points"
    assert Order.objects.count() == 0
    assert PointAccount.objects.get(customer=customer).balance == 999


def test_returning_lines_reverses_their_points(pos, shop, customer):
    order = pos.post("/api/v1/orders/", order_body(customer), format="json").json()
    response = pos.post(f"/api/v1/orders/{order['id']}/returns/", {"lines": [{"sku": "SCARF-1", "quantity": 2}]},
                        format="json")  # fmt: skip
    assert response.status_code == 201
    assert response.json()["order"]["points_balance"] == 200
    assert PointTransaction.objects.get(kind="reverse").points == -100


def test_customer_list_shows_points_and_tier_in_one_query_per_page(api, django_assert_max_num_queries):
    client = api("customers:read")
    for _ in range(10):
        award(CustomerFactory(family_name="鈴木"), 10)
    client.get("/api/v1/customers/", {"q": "鈴木"})  # the key and the tiers loaded into this process's caches
    with django_assert_max_num_queries(4):  # customers, their identities, their points and tiers, the access log
        body = client.get("/api/v1/customers/", {"q": "鈴木"}).json()
    assert [(c["points_balance"], c["tier"]) for c in body["results"]] == [(10, "regular")] * 10


def test_the_balance_body_is_what_its_declared_fields_give(customer):
    from rest_framework import serializers

    from loyalty.api.serializers import BalanceOutput
    from loyalty.selectors import customer_balance

    award(customer, 300)
    balance = customer_balance(customer)
    data = {"customer": customer.public_id, "balance": balance.balance, "tier": balance.tier.code,
            "expiring": balance.expiring}  # fmt: skip
    generic = serializers.Serializer.to_representation(BalanceOutput(data), data)
    assert BalanceOutput(data).data == generic
    assert BalanceOutput({**data, "tier": None, "expiring": []}).data == serializers.Serializer.to_representation(
        BalanceOutput(data), {**data, "tier": None, "expiring": []}
    )
