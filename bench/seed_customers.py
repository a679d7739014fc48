"""Bench a: customers per second through seed_demo's customer phase, against a raw COPY of the same
rows (generated beforehand, untimed) into the same table with the same indexes, in the same run.

Both runs start from an empty crm_customer (TRUNCATE ... RESTART IDENTITY CASCADE) after a
CHECKPOINT, so they write the same rows into the same 15 indexes; the ratio says how much the
seeder's row generation costs on top of the database's own work.
"""

from django.db import connection, transaction

from bench.common import environment_line, raw_connection, report, stopwatch, table
from crm.models import ChannelIdentity, Customer
from crm.seeding import CUSTOMER_COLUMNS, CustomerGenerator, anchor_time, reset_sequences, seed_customers, seed_stores

TARGET_RATIO = 0.5


def empty_customers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_customer RESTART IDENTITY CASCADE")
        cursor.execute("CHECKPOINT")


def index_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'crm_customer'")
        return cursor.fetchone()[0]


def run(*, customers: int, seed: int) -> None:
    stores = seed_stores()

    empty_customers()
    with stopwatch() as seeded, transaction.atomic():
        written, _identities = seed_customers(count=customers, seed=seed, stores=stores)
    assert written == customers

    empty_customers()
    generator = CustomerGenerator(
        count=customers, start_id=1, seed=seed, store_ids={s.code: s.pk for s in stores}, anchor=anchor_time()
    )
    with stopwatch() as generated:
        rows = [row for batch in generator.batches() for row in batch.customers]
    columns = ", ".join(CUSTOMER_COLUMNS)
    with raw_connection() as conn:
        with (
            stopwatch() as raw,
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy(f"COPY crm_customer ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.execute("ANALYZE crm_customer")
    del rows
    reset_sequences([Customer, ChannelIdentity])

    seed_rate = customers / seeded["seconds"]
    raw_rate = customers / raw["seconds"]
    ratio = seed_rate / raw_rate
    result = table(
        ["load", "rows", "seconds", "rows/s", "ratio to raw COPY"],
        [
            ["seed_demo customer phase (generate + COPY)", f"{customers:,}", f"{seeded['seconds']:.1f}",
             f"{seed_rate:,.0f}", f"{ratio:.2f}"],
            ["raw COPY of the same pre-generated rows", f"{customers:,}", f"{raw['seconds']:.1f}",
             f"{raw_rate:,.0f}", "1.00"],
            ["(row generation alone, no database)", f"{customers:,}", f"{generated['seconds']:.1f}",
             f"{customers / generated['seconds']:,.0f}", "-"],
        ],
    )  # fmt: skip
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    report(
        "seed_customers",
        f"## Seeding {customers:,} customers into crm_customer ({index_count()} indexes)\n\n"
        f"{environment_line()}\n\n{result}\n\ntarget: ratio >= {TARGET_RATIO} ({verdict})",
    )
