"""Bench: what the access log (who saw whom, issue 13) adds to the hottest read of a person,
GET /api/v1/customers/{id}/ with an API key holding customers:read.

The same endpoint is timed with the access log off (its one INSERT replaced by a no-op), on, and on
with ACCESS_LOG_RELAXED_COMMIT (the entry's commit does not wait for the WAL flush), interleaved
request by request so that both see the same machine, against the bare SQL of the read
(the customer, its identities, its points) and the bare INSERT of one access log row through a
plain psycopg connection, in one run. The figure that matters is the added time per request.

    .venv/bin/python bench/access_log.py [--customers 20000] [--requests 2000]
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import environment_line, median, percentile, prepare_database, raw_connection, report, table

READ_SQL = (
    "SELECT c.*, s.code FROM crm_customer c LEFT JOIN crm_store s ON s.id = c.home_store_id WHERE c.public_id = %s",
    "SELECT channel, external_id FROM crm_channelidentity WHERE customer_id = %s ORDER BY channel, external_id",
    "SELECT balance, tier_id FROM loyalty_pointaccount WHERE customer_id = %s",
)
INSERT_SQL = (
    "INSERT INTO crm_accesslogentry (at, customer_id, kind, what, user_id, api_key_id, actor, ip_address, request_id)"
    " VALUES (now(), %s, 'api_read', %s, NULL, %s, 'api-key:bench', '127.0.0.1', '')"
)


def ensure_customers(count: int) -> list[tuple[int, str]]:
    from crm.models import Customer

    have = Customer.objects.count()
    if have < count:
        new = [Customer(given_name=f"{i}", email=f"bench{have + i}@example.jp") for i in range(count - have)]
        Customer.objects.bulk_create(new, batch_size=5000)
    return list(Customer.objects.values_list("pk", "public_id")[:count])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args(argv)
    prepare_database(parser)

    from rest_framework.test import APIClient

    from crm.api import views
    from crm.models import AccessLogEntry
    from crm.services import create_api_key

    customers = ensure_customers(args.customers)
    api_key, raw = create_api_key(name="bench access log", scopes=["customers:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    rng = random.Random(13)
    picks = [rng.choice(customers) for _ in range(args.requests)]
    from django.conf import settings

    variants = {"strict": [], "relaxed": [], "off": []}
    real_log = views.log_access

    cpu = {"strict": [], "relaxed": [], "off": []}

    def timed(public_id: str, variant: str = "off") -> float:
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(f"/api/v1/customers/{public_id}/")
        elapsed = (time.perf_counter() - start) * 1000
        cpu[variant].append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, response.content
        return elapsed

    for _pk, public_id in picks[:50]:  # warm up both paths
        timed(public_id)
    before = AccessLogEntry.objects.count()
    for i, (_pk, public_id) in enumerate(picks):
        variant = ("strict", "relaxed", "off")[i % 3]
        views.log_access = (lambda **kwargs: 0) if variant == "off" else real_log
        settings.ACCESS_LOG_RELAXED_COMMIT = variant == "relaxed"
        variants[variant].append(timed(public_id, variant))
    views.log_access = real_log
    logged, relaxed, plain = variants["strict"], variants["relaxed"], variants["off"]
    written = AccessLogEntry.objects.count() - before

    sql_read, sql_insert, sql_insert_relaxed = [], [], []
    with raw_connection() as conn:
        for i, (pk, public_id) in enumerate(picks):
            start = time.perf_counter()
            conn.execute(READ_SQL[0], [public_id]).fetchall()
            conn.execute(READ_SQL[1], [pk]).fetchall()
            conn.execute(READ_SQL[2], [pk]).fetchall()
            sql_read.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            if i % 2:
                with conn.transaction():
                    conn.execute("SET LOCAL synchronous_commit = off")
                    conn.execute(INSERT_SQL, [pk, f"GET /api/v1/customers/{public_id}/", api_key.pk])
                sql_insert_relaxed.append((time.perf_counter() - start) * 1000)
            else:
                conn.execute(INSERT_SQL, [pk, f"GET /api/v1/customers/{public_id}/", api_key.pk])
                sql_insert.append((time.perf_counter() - start) * 1000)

    def row(name, values):
        return [name, len(values), f"{median(values):.2f}", f"{percentile(values, 99):.2f}",
                f"{median(values) / median(sql_read):.1f}×"]  # fmt: skip

    added, added_relaxed = median(logged) - median(plain), median(relaxed) - median(plain)
    cpu_added = {v: median(cpu[v]) - median(cpu["off"]) for v in ("strict", "relaxed")}
    text = "\n".join([
        f"# Access log on the customer read — {environment_line()}, {len(customers):,} customers",
        "",
        table(["path", "requests", "p50 ms", "p99 ms", "p50 ÷ bare SQL read"], [
            row("GET /api/v1/customers/{id}/ with the access log", logged),
            row("the same, ACCESS_LOG_RELAXED_COMMIT", relaxed),
            row("the same without it (log_access a no-op)", plain),
            row("bare SQL of the read (3 statements)", sql_read),
            row("bare SQL INSERT of one access log row (autocommit)", sql_insert),
            row("bare SQL INSERT, synchronous_commit off", sql_insert_relaxed),
        ]),
        "",
        f"Added per request at p50: {added * 1000:.0f} µs ({added / median(plain) * 100:.1f} % of the request), "
        f"{added_relaxed * 1000:.0f} µs with the relaxed commit; the bare INSERT costs "
        f"{median(sql_insert) * 1000:.0f} µs ({median(sql_insert_relaxed) * 1000:.0f} µs relaxed). "
        f"Rows written: {written:,} (one per logged request: {written == len(logged) + len(relaxed)}).",
        f"Web process CPU per request at p50 (what load on the machine does not inflate): "
        f"{median(cpu['off']) * 1000:.0f} µs without the log, +{cpu_added['strict'] * 1000:.0f} µs with it, "
        f"+{cpu_added['relaxed'] * 1000:.0f} µs relaxed.",
    ])  # fmt: skip
    report("access_log", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
