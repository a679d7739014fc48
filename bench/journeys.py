"""Bench: journeys and coupons (issue 18).

1. Journey evaluation of one trigger over all customers on PostgreSQL: `enter_customers` (one
   INSERT … SELECT … ON CONFLICT DO NOTHING per trigger, at most CAMPAIGNS_JOURNEY_ENTER_PER_RUN a run)
   for the birthday-month, win-back (no purchase for 180 days) and welcome triggers — the runs of the
   first activation, until everyone named has entered, and the next run ten minutes later, which finds
   them enrolled — against the plain SELECT of the same customers by hand in the same run.
   Target: ≤ 10 s per run at 1,000,000 customers.
2. Coupon validation: POST /api/v1/coupons/validate/ through the whole Django stack (API key, throttle,
   serializer, the code lookup, the discount) — in-process over 1,000 requests, then served by gunicorn
   (bench/serve.py's server, wrk at 1, 8 and 32 clients, 3 × 10 s) with CPU per request — against the
   raw SELECT of the coupon by its code. Target: p99 ≤ 30 ms.

    .venv/bin/python bench/journeys.py            # 1,000,000 customers / 1,000,000 orders
    .venv/bin/python bench/journeys.py --small    # 50,000 customers / 50,000 orders

BENCH_DATABASE_URL (default here: postgres://postgres@127.0.0.1:5432/tsunagu_bench_journeys).
"""

import argparse
import json
import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench_journeys")

from bench.common import environment_line, median, percentile, prepare_database, raw_connection, report, table

ENTER_TARGET_S = 10.0
VALIDATE_P99_TARGET_MS = 30.0


def seed(customers: int, orders: int) -> None:
    from crm.models import ChannelIdentity, Customer, Order, OrderLine
    from crm.seeding import analyze, reset_sequences, seed_customers, seed_orders, seed_products, seed_stores

    if Customer.objects.count() == customers and Order.objects.count() == orders:
        return
    print(f"seeding {customers:,} customers and {orders:,} orders (COPY)", file=sys.stderr)
    with raw_connection() as conn:
        conn.execute(
            "TRUNCATE campaigns_journeyenrollment, campaigns_journeymessage, campaigns_journeystep, campaigns_journey, "
            "campaigns_couponredemption, campaigns_coupon, campaigns_offer, crm_orderline, crm_order, "
            "crm_channelidentity, crm_customer CASCADE"
        )
    stores, products = seed_stores(), seed_products()
    seed_customers(count=customers, seed=7, stores=stores)
    for i, start in enumerate(range(0, orders, 500_000)):
        seed_orders(count=min(500_000, orders - start), seed=100 + i, stores=stores, products=products)
    reset_sequences([Customer, ChannelIdentity, Order, OrderLine])
    analyze([Customer, ChannelIdentity, Order, OrderLine])


HAND_SQL = {
    "birthday_month": "SELECT count(*) FROM crm_customer WHERE merged_into_id IS NULL "
    "AND EXTRACT(MONTH FROM birth_date) = %(month)s",
    "no_purchase": "SELECT count(*) FROM (SELECT customer_id FROM crm_order o "
    "JOIN crm_customer c ON c.id = o.customer_id WHERE c.merged_into_id IS NULL "
    "GROUP BY customer_id HAVING max(ordered_at) <= %(cutoff)s) t",
    "customer_created": "SELECT count(*) FROM crm_customer WHERE merged_into_id IS NULL AND created_at >= %(since)s",
}


def bench_enter(now) -> list[list]:
    from django.utils import timezone

    from campaigns.models import Journey, JourneyEnrollment
    from campaigns.services.journeys import enter_customers, save_journey

    rows = []
    for trigger, days in (("birthday_month", None), ("no_purchase", 180), ("customer_created", None)):
        journey = Journey(name=f"bench {trigger}", trigger=trigger, trigger_days=days,
                          from_email="Shop <news@shop.example>", status="active",
                          activated_at=now - timedelta(days=365))  # fmt: skip
        save_journey(journey=journey, steps=[{"kind": "wait", "wait_days": 1}])
        Journey.objects.filter(pk=journey.pk).update(status="active", activated_at=now - timedelta(days=365))
        journey.refresh_from_db()
        params = {"month": timezone.localtime(now).month, "cutoff": now - timedelta(days=180),
                  "since": now - timedelta(days=365)}  # fmt: skip
        with raw_connection() as conn:
            start = time.perf_counter()
            conn.execute(HAND_SQL[trigger], params).fetchone()
            raw = time.perf_counter() - start
        runs = []  # the first activation: runs until everyone named has entered (at most 50,000 a run)
        while True:
            start = time.perf_counter()
            entered = enter_customers(journey=journey, now=now)
            runs.append((entered, time.perf_counter() - start))
            if entered == 0:
                break
        start = time.perf_counter()
        again = enter_customers(journey=journey, now=now + timedelta(minutes=10))
        steady = time.perf_counter() - start
        slowest = max(seconds for _n, seconds in runs)
        ok = "yes" if max(slowest, steady) <= ENTER_TARGET_S else "NO"
        rows.append([trigger, f"{sum(n for n, _s in runs):,}", str(len(runs) - 1),
                     " / ".join(f"{seconds:.2f}" for n, seconds in runs if n), f"{steady:.2f} ({again:,} new)",
                     f"{raw:.2f}", ok])  # fmt: skip
        JourneyEnrollment.objects.filter(journey=journey).delete()
    return rows


def bench_validate(requests: int) -> list[list]:
    from rest_framework.test import APIClient

    from campaigns.services.coupons import create_offer, issue_coupon
    from crm.models import Product
    from crm.services import create_api_key

    now = __import__("django.utils.timezone", fromlist=["now"]).now()
    offer = create_offer(name="bench", kind="percent", value=10, min_spend=0, valid_from=now - timedelta(days=1),
                         valid_until=now + timedelta(days=30))  # fmt: skip
    codes = [issue_coupon(offer=offer).code for _ in range(200)]
    skus = list(Product.objects.values_list("sku", flat=True)[:3])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_api_key(name='bench', scopes=['orders:write'])[1]}")
    lines = [{"sku": sku, "quantity": 1, "unit_price": 5000} for sku in skus]
    for code in codes[:20]:  # warm up
        client.post("/api/v1/coupons/validate/", {"code": code, "lines": lines}, format="json")
    served, raw = [], []
    with raw_connection() as conn:
        for i in range(requests):
            code = codes[i % len(codes)]
            start = time.perf_counter()
            response = client.post("/api/v1/coupons/validate/", {"code": code, "lines": lines}, format="json")
            served.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and response.json()["valid"], response.content
            start = time.perf_counter()
            conn.execute("SELECT id, uses, max_uses FROM campaigns_coupon WHERE code = %s", [code]).fetchone()
            raw.append((time.perf_counter() - start) * 1000)
    p99, raw_p99 = percentile(served, 99), percentile(raw, 99)
    rows = [["in-process (Django test client), 1 client", f"{median(served):.1f}", f"{p99:.1f}", "", "",
             f"{raw_p99:.2f}", "yes" if p99 <= VALIDATE_P99_TARGET_MS else "NO"]]  # fmt: skip
    body = json.dumps({"lines": lines}, separators=(",", ":"))
    items = [f'/api/v1/coupons/validate/ {{"code":"{code}",{body[1:]}' for code in codes]
    key = create_api_key(name="bench served", scopes=["orders:write"])[1]
    return rows + bench_validate_served(key, items, raw_p99)


def bench_validate_served(key: str, items: list[str], raw_p99: float) -> list[list]:
    """The same requests served by gunicorn (4 sync workers, DEBUG off, Redis cache) and driven by wrk,
    as bench/serve.py serves the order and read paths, with the workers' and PostgreSQL's CPU per request."""
    import psycopg
    from django.db import connection

    from bench.serve import CpuMeter, children_of, measure_http, start_server, write_list

    if shutil.which("wrk") is None:
        return [["served: wrk is not installed (apt-get install wrk)", "", "", "", "", "", ""]]
    url = os.environ["BENCH_DATABASE_URL"]
    connection.close()
    monitor = psycopg.connect(url, autocommit=True)
    server, port = start_server(url, os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/3"))
    rows, path = [], write_list(items)
    try:
        meter = CpuMeter(monitor, lambda: children_of(server.pid))
        for clients in (1, 8, 32):
            r = measure_http(meter, port, mode="post", key=key, items=path, connections=clients, duration=10,
                             repeats=3, tag=f"validate-{clients}")  # fmt: skip
            assert r["errors"] == 0, r
            rows.append([f"served by gunicorn, {clients} client{'s' if clients > 1 else ''}", f"{r['p50']:.1f}",
                         f"{r['p99']:.1f}", f"{r['rate_median']:,.0f}", f"{r['app_ms']:.1f} + {r['db_ms']:.1f}",
                         f"{raw_p99:.2f}", "yes" if r["p99"] <= VALIDATE_P99_TARGET_MS else "NO"])  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
        monitor.close()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    prepare_database(parser)
    from crm.seeding import anchor_time

    customers = 50_000 if args.small else 1_000_000
    seed(customers, customers)
    now = anchor_time()
    enter = bench_enter(now)
    validate = bench_validate(1000)
    text = "\n\n".join([
        f"Journeys and coupons — {customers:,} customers, {customers:,} orders. {environment_line()}",
        table(["trigger", "entered", "runs to enrol them", "each of those runs s", "next run s",
               "raw SELECT s", f"every run ≤ {ENTER_TARGET_S:.0f} s"], enter),
        table(["POST /api/v1/coupons/validate/", "p50 ms", "p99 ms", "requests/s", "CPU ms/request (app + PG)",
               "raw SELECT p99 ms", f"p99 ≤ {VALIDATE_P99_TARGET_MS:.0f} ms"], validate),
    ])  # fmt: skip
    report("journeys" if not args.small else "journeys_small", text)


if __name__ == "__main__":
    main()
