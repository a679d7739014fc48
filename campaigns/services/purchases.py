"""The purchase summary (campaigns.models.PurchaseSummary): kept row by row after each order commits
(crm's `order_recorded` → the Celery task `campaigns.record_purchases`) and as customers merge, and
rebuilt set-based from the order lines after bulk loads; an hourly reconcile upserts the last hours'
orders again, so that a task lost while the broker was down is repaired within the hour.

Every write is one upsert whose conflict rule keeps the later of the two purchase times, written as a
CASE so that the same statement runs on PostgreSQL and SQLite (>= 3.24) and gives the same rows. Rows
are written in (customer, product, channel) order so that two orders of one customer never wait on
each other in a circle.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from crm.models import Customer, Order, OrderLine

from ..models import PurchaseSummary

REBUILD_CHUNK = 50_000  # order ids (and customer ids) per short transaction of the rebuild


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _upsert(rows_sql: str) -> str:
    table = _table(PurchaseSummary)
    return (
        f"INSERT INTO {table} (customer_id, product_id, channel, last_purchased_at) {rows_sql} "
        "ON CONFLICT (customer_id, product_id, channel) DO UPDATE SET last_purchased_at = CASE "
        f"WHEN excluded.last_purchased_at > {table}.last_purchased_at THEN excluded.last_purchased_at "
        f"ELSE {table}.last_purchased_at END"
    )


def record_purchases(*, order: Order) -> int:
    """Add one recorded order to its customer's summary (after the order committed). Returns rows written."""
    if order.customer_id is None:
        return 0
    products = sorted(set(OrderLine.objects.filter(order=order).values_list("product_id", flat=True)))
    if not products:
        return 0
    at = connection.ops.adapt_datetimefield_value(order.ordered_at)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(products))
    params = [p for product_id in products for p in (order.customer_id, product_id, order.channel, at)]
    with connection.cursor() as cursor:
        cursor.execute(_upsert(f"VALUES {values}"), params)
    return len(products)


def move_purchase_summary(*, winner: Customer, loser: Customer) -> int:
    """On a customer merge (crm has moved the loser's orders already), the loser's rows join the winner's."""
    table = _table(PurchaseSummary)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _upsert(
                f"SELECT %s, product_id, channel, last_purchased_at FROM {table} WHERE customer_id = %s "  # noqa: S608
                "ORDER BY product_id, channel"
            ),
            [winner.pk, loser.pk],
        )
        cursor.execute(f"DELETE FROM {table} WHERE customer_id = %s", [loser.pk])  # noqa: S608 — table name only
        return cursor.rowcount


RECONCILE_HOURS = 3  # the hourly reconcile covers every order recorded since a little before this


def _range_upsert_sql() -> str:
    orders, lines = _table(Order), _table(OrderLine)
    return _upsert(
        f"SELECT o.customer_id, l.product_id, o.channel, MAX(o.ordered_at) FROM {orders} o "  # noqa: S608
        f"JOIN {lines} l ON l.order_id = o.id "
        "WHERE o.customer_id IS NOT NULL AND o.id >= %s AND o.id < %s AND l.order_id >= %s AND l.order_id < %s "
        "GROUP BY o.customer_id, l.product_id, o.channel ORDER BY o.customer_id, l.product_id, o.channel"
    )


def reconcile_recent_purchases(*, now: datetime | None = None, hours: int = RECONCILE_HOURS) -> int:
    """Beat, hourly: the purchases of the orders recorded in the last `hours` are upserted again, so that
    a summary task lost while the broker was down (the sale is never refused for it; the task is only
    logged) is repaired within the hour. From the first order placed in that window on, by order id,
    so that an order synced late with an old `ordered_at` is covered too. One short transaction;
    idempotent (the later time wins). Returns rows written."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    first = Order.objects.filter(ordered_at__gte=since).aggregate(first=Min("pk"))["first"]
    if first is None:
        return 0
    end = (Order.objects.aggregate(last=Max("pk"))["last"] or first) + 1
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_range_upsert_sql(), [first, end, first, end])
        return max(cursor.rowcount, 0)


def rebuild_purchase_summary(*, progress: Callable[[int], object] | None = None, chunk: int = REBUILD_CHUNK) -> int:
    """Recompute the whole summary from crm's orders and lines without ever blocking a sale or
    emptying the table: a short transaction per range of order ids upserts that range's purchases
    (the later time wins, as for live orders, which go on meanwhile), then a short transaction per
    range of customer ids deletes the rows no order justifies any more. Segment counts read the old
    rows until the new ones are in; nothing waits on the rebuild longer than one range. `progress`
    gets the width of each range of order ids. Returns the row count.

    Outside a transaction the table is analysed and vacuumed afterwards, so that segment counts read
    the summary's index alone (index-only scans need the visibility map)."""
    table = _table(PurchaseSummary)
    orders, lines = _table(Order), _table(OrderLine)
    upsert_sql = _range_upsert_sql()
    delete_sql = (
        f"DELETE FROM {table} WHERE customer_id >= %s AND customer_id < %s AND NOT EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {orders} o JOIN {lines} l ON l.order_id = o.id WHERE o.customer_id = {table}.customer_id "
        f"AND l.product_id = {table}.product_id AND o.channel = {table}.channel)"
    )
    bounds = Order.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is not None:
        for start in range(bounds["low"], bounds["high"] + 1, chunk):
            end = min(start + chunk, bounds["high"] + 1)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(upsert_sql, [start, end, start, end])
            if progress is not None:
                progress(end - start)
    customers = PurchaseSummary.objects.aggregate(low=Min("customer_id"), high=Max("customer_id"))
    if customers["low"] is not None:
        for start in range(customers["low"], customers["high"] + 1, chunk):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(delete_sql, [start, start + chunk])
    rows = PurchaseSummary.objects.count()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return rows
