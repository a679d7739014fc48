"""Bench: the points ledger at scale (issue 4), on PostgreSQL.

    .venv/bin/python bench/loyalty.py            # 1,000,000 accounts, 2,000 earns and redemptions
    .venv/bin/python bench/loyalty.py --small    # 100,000 accounts, 500 of each (a quick check)

1. Earn and redeem through the services (loyalty.services: the order pipeline's points step for a recorded order,
   redeem_points), each in its own transaction, on accounts picked at random among N, against the
   raw SQL the same ledger update needs (lock the account, insert the ledger row, insert or consume
   lots with their lot-use rows, move the balance), sent over a plain psycopg connection in the same run.
2. Expiry: every account's lot is put past its date, then expire_points() runs (set-based SQL, a
   batch of accounts per transaction). Target ≤ 60 s for 1,000,000 lots. A second run must expire
   nothing, and check_points' reconciliation must find every account in agreement.

The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tsunagu_bench), created
if missing and migrated. Its customers and loyalty tables are replaced by the benchmark's.
"""

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import environment_line, prepare_database, report, stopwatch, table

EXPIRY_TARGET_S = 60
POINTS_PER_ACCOUNT = 1000


def load_accounts(count: int) -> None:
    """`count` customers with an account holding one lot of POINTS_PER_ACCOUNT points (bulk SQL)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_customer RESTART IDENTITY CASCADE")
        cursor.execute(
            "INSERT INTO crm_customer (public_id, member_number, family_name, given_name, family_name_kana, "
            "given_name_kana, email, phone, postal_code, prefecture, address, email_opt_in, email_opt_in_source, "
            "sms_opt_in, sms_opt_in_source, search_name, search_kana, created_at, updated_at) "
            "SELECT 'cus_' || lpad(n::text, 26, '0'), lpad(n::text, 12, '0'), '', '', '', '', '', '', '', '', '', "
            "false, '', false, '', '', '', now(), now() FROM generate_series(1, %s) AS n",
            [count],
        )
        cursor.execute(
            "INSERT INTO loyalty_pointaccount (customer_id, balance, lifetime_spend, created_at) "
            "SELECT id, %s, 0, now() FROM crm_customer",
            [POINTS_PER_ACCOUNT],
        )
        cursor.execute(
            "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, reference, reason, "
            "shortfall, detail, created_at) SELECT 'ptx_0' || lpad(id::text, 25, '0'), id, 'adjust', %s, '', '', "
            "'bench', 0, '{}'::jsonb, now() FROM loyalty_pointaccount",
            [POINTS_PER_ACCOUNT],
        )
        cursor.execute(
            "INSERT INTO loyalty_pointlot (account_id, earned_by_id, points, remaining, expires_at, created_at) "
            "SELECT account_id, id, points, points, now() + interval '300 days', now() FROM loyalty_pointtransaction"
        )
        cursor.execute("ANALYZE crm_customer, loyalty_pointaccount, loyalty_pointtransaction, loyalty_pointlot")


def make_orders(customer_ids: list[int]) -> list:
    """One store order per customer, written without sending order_recorded (earned in the bench)."""
    from django.utils import timezone

    from crm.models import Order, OrderLine
    from crm.seeding import seed_products, seed_stores

    store, product = seed_stores()[0], seed_products()[0]
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(source="bench", external_ref=f"B-{i}-{cid}", channel="store", store=store, customer_id=cid,
              ordered_at=now, subtotal=12_800, total=12_800)
        for i, cid in enumerate(customer_ids)
    )  # fmt: skip
    OrderLine.objects.bulk_create(
        OrderLine(order=o, line_number=1, product=product, sku=product.sku, quantity=1, unit_price=12_800,
                  amount=12_800)
        for o in orders
    )  # fmt: skip
    return list(
        Order.objects.filter(pk__in=[o.pk for o in orders])
        .select_related("customer", "store")
        .prefetch_related("lines__product")
    )


def bench_services(orders, customers) -> tuple[float, float]:
    from django.db import transaction

    from crm.registry import DraftLine, OrderDraft
    from loyalty.services import prepare_order_points, redeem_points, write_order_points

    with stopwatch() as earn:
        for order in orders:
            with transaction.atomic():
                # the loyalty step of the order pipeline, for an order already written (no stock step)
                line = order.lines.all()[0]
                draft = OrderDraft(
                    public_id=order.public_id, source=order.source, external_ref=order.external_ref,
                    channel=order.channel, store=order.store, customer=order.customer, ordered_at=order.ordered_at,
                    lines=[DraftLine(1, line.product, line.quantity, line.unit_price)], redeem_points=0,
                    subtotal=order.subtotal, total=order.total,
                )  # fmt: skip
                prepare_order_points(draft)
                order.points_earned, draft.order = draft.points_earned, order
                write_order_points(draft)
    with stopwatch() as redeem:
        for i, customer in enumerate(customers):
            redeem_points(customer=customer, points=100, channel="store", reference=f"svc-{i}")
    return earn["seconds"], redeem["seconds"]


EARN_SQL = [
    "SELECT id, balance, tier_id FROM loyalty_pointaccount WHERE customer_id = %(c)s FOR UPDATE",
    "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, store_id, order_id, "
    "reference, idempotency_key, reason, shortfall, detail, created_at) VALUES (%(pid)s, %(a)s, 'earn', 128, "
    "'store', %(s)s, %(o)s, %(ref)s, %(key)s, '', 0, '{\"lines\": {\"1\": 128}}'::jsonb, now()) RETURNING id",
    "INSERT INTO loyalty_pointlot (account_id, earned_by_id, points, remaining, expires_at, created_at) "
    "VALUES (%(a)s, %(t)s, 128, 128, now() + interval '12 months', now())",
    "UPDATE loyalty_pointaccount SET balance = balance + 128, lifetime_spend = lifetime_spend + 12800 WHERE id = %(a)s",
    "UPDATE crm_order SET points_earned = 128 WHERE id = %(o)s",
]


def bench_raw_sql(orders, customers) -> tuple[float, float]:
    from bench.common import raw_connection
    from crm.ids import new_public_id

    with raw_connection() as conn, stopwatch() as earn:
        for order in orders:
            with conn.transaction():
                args = {"c": order.customer_id, "s": order.store_id, "o": order.pk, "ref": order.public_id,
                        "key": f"raw:{order.public_id}:earn", "pid": new_public_id("ptx")}  # fmt: skip
                args["a"] = conn.execute(EARN_SQL[0], args).fetchone()[0]
                args["t"] = conn.execute(EARN_SQL[1], args).fetchone()[0]
                for sql in EARN_SQL[2:]:
                    conn.execute(sql, args)
    with raw_connection() as conn, stopwatch() as redeem:
        for i, customer in enumerate(customers):
            with conn.transaction():
                account, balance = conn.execute(
                    "SELECT id, balance FROM loyalty_pointaccount WHERE customer_id = %s FOR UPDATE", [customer.pk]
                ).fetchone()
                assert balance >= 100
                lots = conn.execute(
                    "SELECT id, remaining FROM loyalty_pointlot WHERE account_id = %s AND remaining > 0 "
                    "ORDER BY expires_at, id",
                    [account],
                ).fetchall()
                lot_id = lots[0][0]
                assert lots[0][1] >= 100
                txn = conn.execute(
                    "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, reference, "
                    "idempotency_key, reason, shortfall, detail, created_at) VALUES (%s, %s, 'redeem', -100, "
                    "'store', %s, %s, '', 0, '{}'::jsonb, now()) RETURNING id",
                    [new_public_id("ptx"), account, f"raw-{i}", f"redeem:{account}:raw-{i}"],
                ).fetchone()[0]
                conn.execute("UPDATE loyalty_pointlot SET remaining = remaining - 100 WHERE id = %s", [lot_id])
                conn.execute(
                    "INSERT INTO loyalty_pointlotuse (transaction_id, lot_id, points) VALUES (%s, %s, -100)",
                    [txn, lot_id],
                )
                conn.execute("UPDATE loyalty_pointaccount SET balance = balance - 100 WHERE id = %s", [account])
    return earn["seconds"], redeem["seconds"]


def run(*, accounts: int, operations: int, seed: int, expiry_only: bool = False) -> str:
    print(f"loading {accounts:,} accounts", file=sys.stderr)
    with stopwatch() as loaded:
        load_accounts(accounts)
    rows = []
    if not expiry_only:
        rows = measure_throughput(accounts=accounts, operations=operations, seed=seed)
    expiry_rows = measure_expiry(accounts)
    parts = [
        f"## Loyalty points at {accounts:,} accounts: services vs raw SQL of the same ledger update",
        "",
        environment_line() + f"; load of accounts + lots {loaded['seconds']:.0f} s; machine shared with other jobs",
        "",
    ]
    if rows:
        parts += [
            table(["operation", "count", "services per s", "raw SQL per s", "services/SQL time"], rows),
            "",
            "One transaction per operation, sequential, one connection each. Services: the order pipeline's",
            "points step (account lock, cached rules, ledger row, lot, balance) and redeem_points",
            "(lock, replay check by reference, due-lot expiry check, ledger row, FIFO lots, lot uses, balance).",
            "Raw SQL: the statements of the same ledger update, without the reads that decide the points.",
            "",
        ]
    parts.append(table(["expiry", "expired", "seconds", "target s", "met"], expiry_rows))
    return "\n".join(parts)


def measure_throughput(*, accounts: int, operations: int, seed: int) -> list[list]:
    from crm.models import Customer
    from loyalty.selectors import accounts_out_of_balance

    rng = random.Random(f"loyalty:{seed}")
    picked = rng.sample(range(1, accounts + 1), 4 * operations)
    svc_ids, raw_ids = picked[: 2 * operations], picked[2 * operations :]
    svc_orders, raw_orders = make_orders(svc_ids[:operations]), make_orders(raw_ids[:operations])
    by_pk = Customer.objects.in_bulk(svc_ids[operations:] + raw_ids[operations:])
    svc_customers = [by_pk[pk] for pk in svc_ids[operations:]]
    raw_customers = [by_pk[pk] for pk in raw_ids[operations:]]

    print("earn and redeem: services, then raw SQL", file=sys.stderr)
    svc_earn, svc_redeem = bench_services(svc_orders, svc_customers)
    raw_earn, raw_redeem = bench_raw_sql(raw_orders, raw_customers)
    assert accounts_out_of_balance() == [], "the ledger disagrees after the throughput runs"

    def per_second(seconds):
        return operations / seconds

    svc_pair = 2 * operations / (svc_earn + svc_redeem)
    raw_pair = 2 * operations / (raw_earn + raw_redeem)
    rows = [
        ["earn (order recorded)", operations, f"{per_second(svc_earn):,.0f}", f"{per_second(raw_earn):,.0f}",
         f"{svc_earn / raw_earn:.1f}"],
        ["redeem (FIFO lots)", operations, f"{per_second(svc_redeem):,.0f}", f"{per_second(raw_redeem):,.0f}",
         f"{svc_redeem / raw_redeem:.1f}"],
        ["earn + redeem", 2 * operations, f"{svc_pair:,.0f}", f"{raw_pair:,.0f}",
         f"{(svc_earn + svc_redeem) / (raw_earn + raw_redeem):.1f}"],
    ]  # fmt: skip
    return rows


def measure_expiry(accounts: int) -> list[list]:
    from django.db import connection

    from loyalty.models import PointLot
    from loyalty.selectors import accounts_out_of_balance
    from loyalty.services import expire_points

    print(f"expiry of {accounts:,} lots", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_pointlot SET expires_at = now() - interval '1 day' WHERE remaining > 0")
        due = cursor.rowcount
        cursor.execute("VACUUM ANALYZE loyalty_pointlot")
        cursor.execute("VACUUM ANALYZE loyalty_pointaccount")
    with stopwatch() as expired:
        result = expire_points()
    with stopwatch() as second:
        again = expire_points()
    with stopwatch() as reconciled:
        disagreeing = accounts_out_of_balance()
    left = PointLot.objects.filter(remaining__gt=0).count()
    expiry_rows = [
        [f"expire_points(), {due:,} lots due", f"{result['lots']:,} lots / {result['accounts']:,} accounts",
         f"{expired['seconds']:.1f}", f"≤ {EXPIRY_TARGET_S}", "yes" if expired["seconds"] <= EXPIRY_TARGET_S else "NO"],
        ["second run (idempotent)", f"{again['lots']:,} lots", f"{second['seconds']:.1f}", "", ""],
        ["check_points reconciliation", f"{len(disagreeing)} accounts disagree", f"{reconciled['seconds']:.1f}",
         "", "yes" if not disagreeing and not left else "NO"],
    ]  # fmt: skip
    return expiry_rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="100,000 accounts and 500 operations of each kind")
    parser.add_argument("--accounts", type=int, help="accounts to load (default 1,000,000)")
    parser.add_argument("--operations", type=int, help="earns and redemptions to time (default 2,000 each)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--expiry-only", action="store_true", help="load the accounts and time the expiry only")
    args = parser.parse_args(argv)
    accounts = args.accounts or (100_000 if args.small else 1_000_000)
    operations = args.operations or (500 if args.small else 2_000)

    prepare_database(parser)
    text = run(accounts=accounts, operations=operations, seed=args.seed, expiry_only=args.expiry_only)
    report("loyalty" if not args.small else "loyalty_small", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
