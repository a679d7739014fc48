"""The retailer-sized data set of the served benchmark (bench/serve.py) and of the points segment in
bench/campaigns.py: customers with channel accounts, orders from every channel, point accounts for
about half of the customers (one lot each, so `check_points` holds), stock of every product at every
location (one receipt each, so `check_stock` holds), tickets (about 5 % open) and the purchase summary.

Written in bulk (COPY and server-side INSERT … SELECT, crm.seeding), once: a later run that finds the
same sizes keeps the data (orders and movements the benchmark added are kept too).
"""

import sys

ACCOUNT_SHARE = 526  # per mille of customers with a point account (the 526k of 1M)
BENCH_SOURCE = "bench-ec"  # orders the served benchmark records
STORE_STOCK, WAREHOUSE_STOCK = 100_000, 10_000_000  # units per product: benchmark orders never run out


def ensure(*, customers: int, orders: int, tickets: int, seed: int = 7) -> bool:
    """Seed what is missing; returns True when the customers and orders were (re)loaded."""
    from crm.models import Customer, Order

    reloaded = False
    if Customer.objects.count() < customers or Order.objects.exclude(source=BENCH_SOURCE).count() < orders:
        _load_customers_and_orders(customers, orders, seed)
        reloaded = True
    _ensure_point_accounts(force=reloaded)
    _ensure_stock()
    _ensure_tickets(tickets, seed, customers, force=reloaded)
    _ensure_purchase_summary(force=reloaded)
    return reloaded


def _load_customers_and_orders(customers: int, orders: int, seed: int) -> None:
    from django.db import connection

    from crm.models import ChannelIdentity, Customer, Order, OrderLine
    from crm.seeding import (
        analyze,
        reset_sequences,
        seed_customers,
        seed_identities,
        seed_orders,
        seed_products,
        seed_stores,
    )

    print(f"seeding {customers:,} customers and {orders:,} orders (COPY)", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE crm_customer, crm_order, crm_orderline, crm_channelidentity, crm_idempotencyrecord, "
            "loyalty_pointaccount, inventory_stocklevel, inventory_stockmovement, channels_hub_ticket, "
            "campaigns_purchasesummary RESTART IDENTITY CASCADE"
        )
    stores, products = seed_stores(), seed_products()
    _n, identities = seed_customers(count=customers, seed=seed, stores=stores)
    seed_identities(identities)
    chunk = 500_000  # orders are generated in memory: in slices
    for i, start in enumerate(range(0, orders, chunk)):
        seed_orders(count=min(chunk, orders - start), seed=100 + i, stores=stores, products=products)
    reset_sequences([Customer, ChannelIdentity, Order, OrderLine])
    analyze([Customer, ChannelIdentity, Order, OrderLine])


def _ensure_point_accounts(*, force: bool) -> None:
    """About half of the customers hold points: one adjust transaction and one lot of the whole balance."""
    from django.db import connection

    from loyalty.models import PointAccount

    if PointAccount.objects.exists() and not force:
        return
    print("loading point accounts", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE loyalty_pointlotuse, loyalty_pointlot, loyalty_pointtransaction, loyalty_pointaccount "
            "RESTART IDENTITY CASCADE"
        )
        # A spread of balances (0-4,999, a fifth of them ≥ 4,000); deterministic from the customer id.
        cursor.execute(
            "INSERT INTO loyalty_pointaccount (customer_id, balance, lifetime_spend, created_at) "
            "SELECT id, (id * 7919) %% 5000, (id * 104729) %% 300000, now() FROM crm_customer "
            "WHERE merged_into_id IS NULL AND (id * 2654435761) %% 1000 < %s",
            [ACCOUNT_SHARE],
        )
        cursor.execute(
            "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, reference, reason, "
            "shortfall, detail, created_at) SELECT 'ptx_0' || lpad(id::text, 25, '0'), id, 'adjust', balance, '', "
            "'', 'bench', 0, '{}'::jsonb, now() FROM loyalty_pointaccount WHERE balance > 0"
        )
        cursor.execute(
            "INSERT INTO loyalty_pointlot (account_id, earned_by_id, points, remaining, expires_at, created_at) "
            "SELECT account_id, id, points, points, now() + interval '300 days', now() FROM loyalty_pointtransaction"
        )
        cursor.execute("ANALYZE loyalty_pointaccount, loyalty_pointtransaction, loyalty_pointlot")


def _ensure_stock() -> None:
    from django.db import connection

    from crm.models import Product, Store
    from inventory.models import StockLevel

    if StockLevel.objects.count() >= Store.objects.count() * Product.objects.count():
        return
    print("loading stock", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE inventory_stockmovement, inventory_reservation, inventory_stocklevel CASCADE")
        cursor.execute(
            "INSERT INTO inventory_stocklevel (store_id, product_id, on_hand, reserved, updated_at) "
            "SELECT s.id, p.id, CASE WHEN s.kind = 'warehouse' THEN %s ELSE %s END, 0, now() "
            "FROM crm_store s CROSS JOIN crm_product p",
            [WAREHOUSE_STOCK, STORE_STOCK],
        )
        cursor.execute(
            "INSERT INTO inventory_stockmovement (store_id, product_id, kind, on_hand_delta, reserved_delta, "
            "reference, note, created_at) SELECT store_id, product_id, 'receipt', on_hand, 0, 'bench', '', now() "
            "FROM inventory_stocklevel"
        )
        cursor.execute("ANALYZE inventory_stocklevel, inventory_stockmovement")


def _ensure_tickets(count: int, seed: int, customers: int, *, force: bool) -> None:
    from channels_hub.models import Ticket

    if Ticket.objects.count() >= count and not force:
        return
    from bench.channels_hub import ensure_tickets

    ensure_tickets(count, seed, customers)


def _ensure_purchase_summary(*, force: bool) -> None:
    from campaigns.models import PurchaseSummary
    from campaigns.services import rebuild_purchase_summary

    if PurchaseSummary.objects.exists() and not force:
        return
    print("rebuilding the purchase summary", file=sys.stderr)
    rebuild_purchase_summary()
