"""The purchase summary answers `purchased` exactly as the order lines do: random orders from every
channel (recorded through crm's service, so through the after-commit task), returns, merges and a product moved
to another category, then many rule combinations counted both ways."""

import datetime as dt
import io
import itertools
import random

import pytest
from django.core.management import call_command
from django.db.models import Exists
from django.utils import timezone

from campaigns.models import PurchaseSummary
from campaigns.segments import orders_of_customer, purchases_of_customer, segment_customers
from crm.models import Order
from crm.selectors import active_customers
from crm.services.catalog import upsert_product
from crm.services.merges import merge_customers
from crm.services.orders import record_order, record_return
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = pytest.mark.django_db

CATEGORIES, BRANDS, CHANNELS = ("outerwear", "tops", "shoes"), ("Nord", "Sun"), ("store", "ec", "app")


def _summary_rows():
    return set(PurchaseSummary.objects.values_list("customer_id", "product_id", "channel", "last_purchased_at"))


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    """Customers with random orders over two years in every channel, some returned, two merges."""
    rng = random.Random(20261124)
    store, warehouse = StoreFactory(), WarehouseFactory()
    products = [
        ProductFactory(sku=f"P-{c}-{b}-{i}", category=c, brand=b)
        for c, b, i in itertools.product(CATEGORIES, BRANDS, range(2))
    ]
    for product in products:
        stock(product, warehouse, 1000)
        stock(product, store, 1000)
    customers = [CustomerFactory() for _ in range(12)]
    now = timezone.now()
    orders = []
    for n in range(90):
        channel = rng.choice(CHANNELS)
        lines = [
            {"product": p, "quantity": rng.randint(1, 2), "unit_price": 1000}
            for p in rng.sample(products, rng.randint(1, 3))
        ]
        with django_capture_on_commit_callbacks(execute=True):  # the summary is written after commit
            order, _created = record_order(
                source="test", external_ref=f"o-{n}", channel=channel, store=store if channel == "store" else warehouse,
                ordered_at=now - dt.timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440)),
                lines=lines, customer=rng.choice([*customers, None]),
            )  # fmt: skip
        orders.append(order)
    for order in rng.sample(orders, 15):
        line = order.lines.first()
        record_return(order=order, lines=[{"sku": line.sku, "quantity": line.quantity}], reason="size")
    merge_customers(winner=customers[0], loser=customers[1], reason="same person")
    merge_customers(winner=customers[2], loser=customers[3], reason="same person")
    merge_customers(winner=customers[0], loser=customers[2], reason="same person")
    # The catalogue moves a product to another category and brand: summaries follow the product.
    upsert_product(sku=products[0].sku, category="shoes", brand="Sun")
    return now


def _rule_filters():
    choices = {
        "category": (None, *CATEGORIES, "unknown"),
        "brand": (None, *BRANDS),
        "channel": (None, *CHANNELS),
        "within_days": (None, 1, 30, 90, 365, 3650),
    }
    for combo in itertools.product(*choices.values()):
        yield {k: v for k, v in zip(choices, combo, strict=True) if v is not None}


def test_summary_and_order_lines_find_the_same_customers_for_every_filter_combination(shop):
    now = shop
    assert Order.objects.filter(returns__isnull=False).exists()
    checked = 0
    for filters in _rule_filters():
        by_lines = active_customers().filter(Exists(orders_of_customer(filters, now)))
        by_summary = active_customers().filter(Exists(purchases_of_customer(filters, now)))
        assert set(by_summary.values_list("pk", flat=True)) == set(by_lines.values_list("pk", flat=True)), filters
        not_by_lines = active_customers().exclude(Exists(orders_of_customer(filters, now)))
        not_by_summary = active_customers().exclude(Exists(purchases_of_customer(filters, now)))
        assert not_by_summary.count() == not_by_lines.count(), filters
        checked += 1
    assert checked == 5 * 3 * 4 * 6
    rule = {"field": "purchased", "op": "eq", "value": True, "category": "outerwear", "within_days": 365}
    expected = active_customers().filter(Exists(orders_of_customer(rule, now))).count()
    assert 0 < segment_customers(rule, now=now).count() == expected


def test_rebuild_gives_the_rows_the_signals_kept(shop):
    kept = _summary_rows()
    assert kept
    PurchaseSummary.objects.all().delete()
    call_command("rebuild_purchase_summary", stdout=io.StringIO())
    assert _summary_rows() == kept


def test_merged_away_customer_keeps_no_summary_rows(shop):
    merged_away = set(active_customers().values_list("pk", flat=True))
    assert set(PurchaseSummary.objects.values_list("customer_id", flat=True)) <= merged_away


def test_an_older_order_recorded_later_keeps_the_latest_purchase_time(django_capture_on_commit_callbacks):
    store = StoreFactory()
    coat = ProductFactory(category="outerwear")
    customer = CustomerFactory()
    now = timezone.now().replace(microsecond=0)
    for ref, days in (("new", 5), ("old", 300)):
        with django_capture_on_commit_callbacks(execute=True):
            record_order(
                source="test", external_ref=ref, channel="store", store=store,
                ordered_at=now - dt.timedelta(days=days),
                lines=[{"product": coat, "quantity": 1, "unit_price": 1000}], customer=customer,
            )  # fmt: skip
    assert PurchaseSummary.objects.get(customer=customer).last_purchased_at == now - dt.timedelta(days=5)


def test_rebuild_in_short_ranges_never_empties_the_summary_and_drops_rows_no_order_justifies(shop):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.services import rebuild_purchase_summary

    kept = _summary_rows()
    row = PurchaseSummary.objects.first()
    PurchaseSummary.objects.create(  # a channel this customer never bought through
        customer_id=row.customer_id, product_id=row.product_id, channel="catalog", last_purchased_at=timezone.now()
    )
    with CaptureQueriesContext(connection) as queries:
        rebuild_purchase_summary(chunk=7)
    emptying = [q["sql"] for q in queries.captured_queries if "TRUNCATE" in q["sql"]]
    emptying += [q["sql"] for q in queries.captured_queries if "DELETE" in q["sql"] and "NOT EXISTS" not in q["sql"]]
    assert emptying == []
    assert _summary_rows() == kept


def test_the_fill_migration_is_self_contained_and_fills_what_the_orders_say(shop):
    import ast
    import importlib
    from pathlib import Path
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    module = importlib.import_module("campaigns.migrations.0004_fill_purchase_summary")
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"django.db"}  # no live service code: later changes cannot alter the migration
    kept = _summary_rows()
    PurchaseSummary.objects.all().delete()
    module.fill(apps, SimpleNamespace(connection=connection))
    assert _summary_rows() == kept


def test_the_hourly_reconcile_repairs_a_summary_task_lost_with_the_broker():
    from campaigns.tasks import reconcile_purchases

    store = StoreFactory()
    coat = ProductFactory(category="outerwear")
    customer = CustomerFactory()
    now = timezone.now().replace(microsecond=0)
    # the after-commit task never ran (no on-commit callbacks in this test): the broker was down
    record_order(source="test", external_ref="lost", channel="store", store=store, ordered_at=now,
                 lines=[{"product": coat, "quantity": 1, "unit_price": 1000}], customer=customer)  # fmt: skip
    record_order(source="test", external_ref="late-sync", channel="store", store=store,
                 ordered_at=now - dt.timedelta(days=40),
                 lines=[{"product": ProductFactory(category="shoes"), "quantity": 1, "unit_price": 1000}],
                 customer=customer)  # fmt: skip
    assert not PurchaseSummary.objects.filter(customer=customer).exists()

    assert reconcile_purchases() == 2  # the late-synced order recorded after the lost one is covered too

    assert PurchaseSummary.objects.get(customer=customer, product=coat).last_purchased_at == now
    assert reconcile_purchases() == 2  # idempotent: the same rows, nothing doubled
    assert PurchaseSummary.objects.filter(customer=customer).count() == 2
