"""The order pipeline (crm/registry.py): declared steps in the global lock order, the order row written
once with its final values, a fixed number of statements, reference conflicts, merges under lock, and
after-commit work that cannot refuse a sale."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import registry
from crm.models import Order
from crm.money import POINT_VALUE_YEN
from crm.services import merge_customers, record_order
from inventory.models import StockLevel
from inventory.services import ensure_stock_levels
from loyalty import conf as loyalty_conf
from loyalty.models import EarnRule, PointAccount, PointCampaign

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.UTC)


def test_steps_are_declared_in_the_global_lock_order():
    steps = registry.order_steps()
    assert [(s.name, s.position, s.locks) for s in steps] == [
        ("campaigns.coupon", 10, "coupon"),
        ("loyalty.points", 20, "point account"),
        ("inventory.stock", 30, "stock levels"),
    ]
    assert registry.LOCK_ORDER == ("customer", "order", "coupon", "point account", "stock levels")
    for kind in (registry.order_steps(), registry.return_steps(), registry.cancel_steps()):
        ranks = [registry.LOCK_ORDER.index(s.locks) for s in kind if s.locks]
        assert ranks == sorted(ranks), "a step locks something that comes before an earlier step's locks"
    assert [s.name for s in registry.return_steps()] == ["campaigns.coupon", "loyalty.points", "inventory.stock"]
    assert [s.name for s in registry.cancel_steps()] == ["campaigns.coupon", "loyalty.points", "inventory.stock"]


def test_a_step_must_name_a_lock_of_the_global_order():
    with pytest.raises(ValueError, match="LOCK_ORDER"):
        registry.register_order_step(registry.OrderStep("x.y", 25, "warehouse", lambda draft: None))


@pytest.fixture
def ec():
    warehouse, tokyo = WarehouseFactory(), StoreFactory(code="TKY")
    osaka = StoreFactory(code="OSK", prefecture="大阪府")
    coat = ProductFactory(sku="COAT", category="outerwear")
    ensure_stock_levels([(warehouse.pk, coat.pk)])  # the EC warehouse has none
    stock(coat, tokyo, 3)
    stock(coat, osaka, 5)
    customer = CustomerFactory(prefecture="東京都")
    return {"warehouse": warehouse, "tokyo": tokyo, "osaka": osaka, "coat": coat, "customer": customer}


def _ec_order(ec, ref="EC-1", quantity=1, **kwargs):
    return record_order(
        source="ec", external_ref=ref, channel="ec", store=ec["warehouse"], ordered_at=NOW,
        lines=[{"product": ec["coat"], "quantity": quantity, "unit_price": 12000}],
        customer=kwargs.pop("customer", ec["customer"]), **kwargs,
    )  # fmt: skip


def test_the_order_row_is_written_once_with_points_and_the_shipping_store(ec):
    with CaptureQueriesContext(connection) as queries:
        order, created = _ec_order(ec)
    sql = [q["sql"].upper() for q in queries.captured_queries]
    assert sum(s.startswith("INSERT") and 'INTO "CRM_ORDER" ' in s for s in sql) == 1
    assert not [s for s in sql if s.startswith('UPDATE "CRM_ORDER"')]
    order.refresh_from_db()
    assert created and order.points_earned == 120 and order.fulfilled_from == ec["tokyo"]  # customer's prefecture
    assert StockLevel.objects.get(store=ec["tokyo"]).on_hand == 2


@pytest.mark.postgres
def test_an_ec_order_takes_its_locks_in_the_global_order(ec):
    _ec_order(ec, ref="EC-0")  # the point account exists now
    with CaptureQueriesContext(connection) as queries:
        _ec_order(ec, ref="EC-1")
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"] or "FOR NO KEY UPDATE" in q["sql"]]
    tables = [sql.split(" FROM ")[1].split()[0].strip('"') for sql in locks]
    assert tables == ["crm_customer", "loyalty_pointaccount", "inventory_stocklevel", "inventory_stocklevel"]
    # The customer is held FOR NO KEY UPDATE: rows that merely reference it never wait for the order.
    assert "FOR NO KEY UPDATE" in locks[0]
    warehouse_rows, candidate_rows = locks[2], locks[3]
    assert 'ORDER BY "inventory_stocklevel"."id" ASC' in warehouse_rows
    assert 'ORDER BY "inventory_stocklevel"."id" ASC' in candidate_rows  # every candidate store in one statement


# The request's own transactions, as in production: no test savepoints around them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_one_line_ec_order_with_points_runs_at_most_15_statements_and_one_commit(api, ec, monkeypatch):
    from campaigns.tasks import record_order_purchases

    queued = []
    monkeypatch.setattr(record_order_purchases, "delay", queued.append)  # a broker takes it, not the request
    stock(ec["coat"], ec["warehouse"], 10)
    client = api("orders:write")

    def post(ref):
        body = {
            "source": "ec", "external_ref": ref, "channel": "ec", "customer": ec["customer"].public_id,
            "ordered_at": "2026-11-20T14:05:00+09:00", "lines": [{"sku": "COAT", "quantity": 1, "unit_price": 9800}],
        }  # fmt: skip
        return client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"key-{ref}")

    assert post("EC-0").status_code == 201  # a first order: the account exists, every cache is warm
    commits, commit = [], connection.commit
    monkeypatch.setattr(connection, "commit", lambda: (commits.append(1), commit())[1])
    with CaptureQueriesContext(connection) as queries:
        response = post("EC-1")
    assert len(commits) == 1, "the key's claim, the order and the stored answer commit together"
    # BEGIN/COMMIT: SQLite's backend sends them as statements, psycopg as protocol (not captured)
    statements = [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN IMMEDIATE", "BEGIN", "COMMIT")]
    assert len(statements) <= 15, "\n".join(s[:120] for s in statements)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["points_earned"], body["points_balance"], body["fulfilled_from"]) == (98, 196, "EC-WH")
    assert [line["name"] for line in body["lines"]] == [ec["coat"].name]
    assert queued == [Order.objects.get(external_ref="EC-0").pk, Order.objects.get(external_ref="EC-1").pk]


def test_an_edited_earn_rule_applies_to_the_next_order_without_reading_rules_per_order(ec):
    _ec_order(ec, ref="EC-0")
    with CaptureQueriesContext(connection) as queries:
        _ec_order(ec, ref="EC-1")
    assert not [q for q in queries.captured_queries if "loyalty_earnrule" in q["sql"] or "pointcampaign" in q["sql"]]
    rule = EarnRule.objects.get(channel="ec")
    rule.points_per_unit = 3
    rule.save()
    order, _ = _ec_order(ec, ref="EC-2")
    assert order.points_earned == 360
    PointCampaign.objects.create(
        name="double", multiplier=2, starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1)
    )
    order, _ = _ec_order(ec, ref="EC-3")
    assert order.points_earned == 720


def test_one_point_is_worth_the_same_yen_in_orders_and_in_loyalty(ec):
    from loyalty.services import adjust_points

    adjust_points(customer=ec["customer"], points=500, reason="welcome")
    order, _ = _ec_order(ec, redeem_points=500)
    assert loyalty_conf.point_value_yen() == POINT_VALUE_YEN
    assert order.total == order.subtotal - 500 * POINT_VALUE_YEN


# --- Reference conflicts ------------------------------------------------------------------------
@pytest.fixture
def pos(api):
    return api("orders:write")


def _body(ec, **overrides):
    body = {
        "source": "pos-1", "external_ref": "R-1", "channel": "store", "store": "TKY",
        "customer": ec["customer"].public_id, "ordered_at": "2026-11-20T14:05:00+09:00",
        "lines": [{"sku": "COAT", "quantity": 1, "unit_price": 12000}],
    }  # fmt: skip
    return {**body, **overrides}


def test_an_identical_resend_answers_the_original(pos, ec):
    first = pos.post("/api/v1/orders/", _body(ec), format="json")
    again = pos.post("/api/v1/orders/", _body(ec, ordered_at="2026-11-20T14:06:00+09:00"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lines": [{"sku": "COAT", "quantity": 2, "unit_price": 12000}]}, "lines"),
        ({"lines": [{"sku": "COAT", "quantity": 1, "unit_price": 11000}]}, "lines"),
        ({"customer": None}, "customer"),
        ({"channel": "phone"}, "channel"),
        ({"store": "OSK"}, "store"),
        ({"redeem_points": 100}, "redeem_points"),
    ],
)
def test_a_reused_reference_with_other_content_is_a_conflict_and_changes_nothing(pos, ec, overrides, field):
    from loyalty.services import adjust_points

    adjust_points(customer=ec["customer"], points=100, reason="welcome")
    first = pos.post("/api/v1/orders/", _body(ec), format="json")
    assert first.status_code == 201
    response = pos.post("/api/v1/orders/", _body(ec, **overrides), format="json")
    assert response.status_code == 409, response.json()
    problem = response.json()
    assert problem["code"] == "reference_conflict"
    assert list(problem["errors"]) == [field]
    assert first.json()["id"] in problem["detail"]
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert (order.subtotal, order.channel, order.store.code, order.points_redeemed) == (12000, "store", "TKY", 0)
    assert PointAccount.objects.get(customer=ec["customer"]).balance == 100 + 120


def test_a_resend_naming_the_merged_away_id_is_the_same_order(pos, ec):
    first = pos.post("/api/v1/orders/", _body(ec), format="json")
    winner = CustomerFactory()
    merge_customers(winner=winner, loser=ec["customer"], reason="same person")
    again = pos.post("/api/v1/orders/", _body(ec), format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["customer"] == winner.public_id


def test_an_order_for_a_customer_merged_after_it_was_looked_up_goes_to_the_survivor(ec):
    looked_up = ec["customer"]  # what the API resolved before the order's transaction
    winner = CustomerFactory()
    merge_customers(winner=winner, loser=looked_up, reason="same person")
    order, _ = _ec_order(ec, customer=looked_up)
    assert order.customer == winner
    assert PointAccount.objects.get(customer=winner).balance == 120
    assert not PointAccount.objects.filter(customer=looked_up, balance__gt=0).exists()


# --- After commit -------------------------------------------------------------------------------
def test_a_fault_in_the_purchase_summary_does_not_refuse_the_sale(
    pos, ec, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns import tasks
    from campaigns.models import PurchaseSummary

    def broken(**kwargs):
        raise RuntimeError("summary table locked by a rebuild")

    monkeypatch.setattr(tasks, "record_purchases", broken)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = pos.post("/api/v1/orders/", _body(ec), format="json")
    assert callbacks, "the summary is queued after the commit"
    assert response.status_code == 201
    assert Order.objects.filter(public_id=response.json()["id"], points_earned=120).exists()
    assert not PurchaseSummary.objects.exists()


def test_the_purchase_summary_is_written_after_the_commit(pos, ec, django_capture_on_commit_callbacks):
    from campaigns.models import PurchaseSummary

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pos.post("/api/v1/orders/", _body(ec), format="json")
    assert not PurchaseSummary.objects.exists()
    for callback in callbacks:
        callback()
    assert PurchaseSummary.objects.filter(customer=ec["customer"], product=ec["coat"], channel="store").exists()


def test_the_order_answer_is_what_the_declared_fields_give(pos, ec):
    from rest_framework import serializers

    from crm.api.serializers import OrderOutput
    from crm.selectors import order_with_lines

    response = pos.post("/api/v1/orders/", _body(ec), format="json")
    order = order_with_lines().get(public_id=response.json()["id"])
    generic = serializers.ModelSerializer.to_representation(OrderOutput(order), order)
    assert OrderOutput(order).data == generic
    assert response.json() == generic
