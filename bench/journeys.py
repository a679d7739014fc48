"""Bench: journeys and coupons (issue 18).

1. Journey evaluation of one trigger over all customers on PostgreSQL: `enter_customers` (one
   INSERT … SELECT … ON CONFLICT DO NOTHING per trigger) for the birthday-month, win-back (no purchase
   for 180 days) and welcome triggers — the first run, which enrols, and the second, which finds
   everyone enrolled already — against the plain SELECT of the same customers by hand in the same run.
   Target: ≤ 10 s per run at 1,000,000 customers.
2. Coupon validation served: POST /api/v1/coupons/validate/ through the whole Django stack in-process
   (API key, throttle, serializer, the code lookup, the discount), p50 / p99 over 1,000 requests, against
   the raw SELECT of the coupon by its code. Target: p99 ≤ 30 ms.

    .venv/bin/python bench/journeys.py            # 1,000,000 customers / 1,000,000 orders
    .venv/bin/python bench/journeys.py --small    # 50,000 customers / 50,000 orders

BENCH_DATABASE_URL (default here: postgres://postgres@127.0.0.1:5432/tsunagu_bench_journeys).
"""

import argparse
import os
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
        start = time.perf_counter()
        entered = enter_customers(journey=journey, now=now)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = enter_customers(journey=journey, now=now)
        second = time.perf_counter() - start
        assert again == 0
        ok = "yes" if max(first, second) <= ENTER_TARGET_S else "NO"
        rows.append([trigger, f"{entered:,}", f"{first:.2f}", f"{second:.2f}", f"{raw:.2f}",
                     f"{first / raw:.1f}×", ok])  # fmt: skip
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
    p99 = percentile(served, 99)
    return [["POST /api/v1/coupons/validate/ (served in-process)", f"{median(served):.1f}", f"{p99:.1f}",
             f"{percentile(raw, 99):.2f}", f"{p99 / percentile(raw, 99):.0f}×",
             "yes" if p99 <= VALIDATE_P99_TARGET_MS else "NO"]]  # fmt: skip


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
        table(["trigger", "entered", "first run s", "re-run s", "raw SELECT s", "first ÷ raw",
               f"≤ {ENTER_TARGET_S:.0f} s"], enter),
        table(["request", "p50 ms", "p99 ms", "raw SELECT p99 ms", "p99 ÷ raw",
               f"p99 ≤ {VALIDATE_P99_TARGET_MS:.0f} ms"], validate),
    ])  # fmt: skip
    report("journeys" if not args.small else "journeys_small", text)


if __name__ == "__main__":
    main()
