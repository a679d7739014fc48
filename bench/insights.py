"""Bench: insights, at 1,000,000 customers, 5,000,000 orders and 1,000,000 tickets on PostgreSQL.

1. The daily facts: a full refresh (every day) and the nightly one (the trailing days).
2. The KPI dashboard as a marketer loads it (Django test client, whole page: 14 figures for two
   periods, six charts), default period (the last four weeks) and a whole year; against the same
   SQL statements replayed through a bare psycopg connection in the same run, and against the same
   page computed from the base tables alone (no facts). Target ≤ 2 s.
3. build_recommendations over every order line, in its own process: seconds and the process's peak
   memory (ru_maxrss); against the bare SQL that reads the same purchases. Targets ≤ 5 min, ≤ 4 GiB.
4. GET /api/v1/customers/{id}/recommendations/ for customers drawn at random, with an API key:
   p50 / p99 against its SQL statements replayed through psycopg. Target p99 ≤ 50 ms.

    .venv/bin/python bench/insights.py            # 1M customers, 5M orders, 1M tickets
    .venv/bin/python bench/insights.py --small    # 50,000 / 250,000 / 50,000

BENCH_DATABASE_URL (default here: postgres://postgres@127.0.0.1:5432/tsunagu_insights_bench). The data is
seeded once with COPY (crm.seeding for customers and orders; tickets, messages, points, pickups and a
campaign here) and reused while its size matches.
"""

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_insights_bench")

from bench.common import (
    ROOT,
    environment_line,
    median,
    percentile,
    prepare_database,
    raw_connection,
    report,
    stopwatch,
    table,
)

DASHBOARD_TARGET_S = 2.0
BUILD_TARGET_S = 300
BUILD_TARGET_GIB = 4
API_TARGET_MS = 50
CATEGORIES = (("delivery", 30), ("returns", 20), ("product", 20), ("points", 10), ("complaint", 10), ("", 10))
CHANNELS = ("email", "phone", "chat", "line", "web_form", "instagram")
MARKETER = "bench.marketer@tsunagu.example"


# --- data ------------------------------------------------------------------------------------------
def seed(customers: int, orders: int, tickets: int) -> bool:
    from channels_hub.models import Ticket
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

    if (Customer.objects.count(), Order.objects.count(), Ticket.objects.count()) == (customers, orders, tickets):
        return False
    print(f"seeding {customers:,} customers, {orders:,} orders, {tickets:,} tickets (COPY)", file=sys.stderr)
    with raw_connection() as conn:
        conn.execute(
            "TRUNCATE insights_customerchannelday, insights_ticketfact, insights_pointsday, insights_productaffinity, "
            "insights_popularproduct, campaigns_mailevent, campaigns_campaignrecipient, campaigns_campaign, "
            "campaigns_segment, campaigns_purchasesummary, loyalty_pointlotuse, loyalty_pointlot, "
            "loyalty_pointtransaction, loyalty_pointaccount, inventory_reservation, inventory_stocklevel, "
            "channels_hub_mention, channels_hub_csatresponse, channels_hub_message, channels_hub_ticket, "
            "channels_hub_lead, crm_orderline, crm_order, crm_channelidentity, crm_customer CASCADE"
        )
    stores, products = seed_stores(), seed_products()
    _n, identities = seed_customers(count=customers, seed=11, stores=stores)
    seed_identities(identities)
    chunk = 500_000  # orders are generated in memory: in slices
    for i, start in enumerate(range(0, orders, chunk)):
        seed_orders(count=min(chunk, orders - start), seed=200 + i, stores=stores, products=products)
    reset_sequences([Customer, ChannelIdentity, Order, OrderLine])
    seed_tickets(tickets, customers)
    seed_points_stock_pickups_campaign(stores, products)
    analyze([Customer, ChannelIdentity, Order, OrderLine])
    return True


def seed_tickets(count: int, customers: int) -> None:
    """Tickets over two years with their outcome (status, first response, CSAT, category), one inbound
    message each and 0–3 replies, by COPY and INSERT … SELECT."""
    from channels_hub.models import Message, Ticket
    from crm.seeding import analyze, anchor_time, reset_sequences, ulid_string, write_rows

    rng = random.Random("insights-tickets")
    anchor = anchor_time()
    span_s = 2 * 365 * 86400
    names, weights = zip(*CATEGORIES, strict=True)
    columns = ("id", "public_id", "customer_id", "subject", "status", "priority", "category", "tags",
               "first_channel", "last_message_at", "first_response_at", "resolved_at", "csat_score", "created_at",
               "updated_at")  # fmt: skip

    def rows():
        for i in range(1, count + 1):
            at = anchor - timedelta(seconds=rng.random() ** 1.3 * span_s)  # more recent tickets than old ones
            recent = anchor - at < timedelta(days=3)
            status = rng.choice(["new", "open", "pending"]) if recent and rng.random() < 0.6 else (
                "closed" if rng.random() < 0.7 else "resolved") if rng.random() < 0.93 else "open"  # fmt: skip
            answered = status != "new" and rng.random() < 0.95
            first = at + timedelta(minutes=rng.lognormvariate(4, 1.2)) if answered else None
            resolved = status in ("resolved", "closed")
            csat = rng.choices([1, 2, 3, 4, 5], [5, 5, 15, 35, 40])[0] if resolved and rng.random() < 0.3 else None
            yield (
                i, "tkt_" + ulid_string(int(at.timestamp() * 1000), rng.getrandbits(80)), rng.randint(1, customers),
                f"お問い合わせ {i}", status, "normal", rng.choices(names, weights)[0], "[]", rng.choice(CHANNELS),
                at, first, first if resolved else None, csat, at, at,
            )  # fmt: skip

    write_rows(Ticket, columns, rows())
    with raw_connection() as conn:
        conn.execute(
            "INSERT INTO channels_hub_message (public_id, ticket_id, channel, direction, author, body, attachments, "
            "external_message_id, email_message_id, sent_at, delivery_status, delivery_attempts, delivery_error, "
            "created_at) "
            "SELECT 'msg_' || substr(public_id, 5), id, first_channel, 'in', 'customer', '注文の件で', '[]', "
            "'seed-' || id, '', created_at, '', 0, '', created_at FROM channels_hub_ticket"
        )
        conn.execute(
            "INSERT INTO channels_hub_message (public_id, ticket_id, channel, direction, author, body, attachments, "
            "external_message_id, email_message_id, sent_at, delivery_status, delivery_attempts, delivery_error, "
            "created_at) "
            "SELECT 'msg_' || substr(t.public_id, 5, 10) || upper(substr(md5(t.id || '-' || n), 1, 16)), t.id, "
            "t.first_channel, 'out', 'agent', 'ご連絡ありがとうございます', '[]', '', '', "
            "t.first_response_at + (n - 1) * interval '3 hours', '', 0, '', "
            "t.first_response_at + (n - 1) * interval '3 hours' "
            "FROM channels_hub_ticket t CROSS JOIN generate_series(1, 3) AS n "
            "WHERE t.first_response_at IS NOT NULL AND n <= 1 + t.id % 3"
        )
    reset_sequences([Ticket, Message])
    analyze([Ticket, Message])


def seed_points_stock_pickups_campaign(stores, products) -> None:
    """What the other apps would have written for the seeded orders, set-based: an earn per order with a
    customer (1 point per 100 yen), a redemption on one order in ten, expiries; stock for most products;
    pickups that ended in the last two months; one campaign mailed to a fifth of the customers."""
    from campaigns.models import Campaign, Segment

    with raw_connection() as conn:
        conn.execute(
            "INSERT INTO loyalty_pointaccount (customer_id, balance, lifetime_spend, created_at) "
            "SELECT id, 0, 0, created_at FROM crm_customer"
        )
        common = "(public_id, account_id, kind, points, channel, reference, reason, shortfall, detail, created_at) "
        conn.execute(
            f"INSERT INTO loyalty_pointtransaction {common}"
            "SELECT 'ptx_' || substr(o.public_id, 5), a.id, 'earn', GREATEST(o.total / 100, 1), o.channel, '', '', 0, "
            "'{}', o.ordered_at FROM crm_order o JOIN loyalty_pointaccount a ON a.customer_id = o.customer_id"
        )
        conn.execute(
            f"INSERT INTO loyalty_pointtransaction {common}"
            "SELECT 'ptx_' || substr(o.public_id, 5, 10) || upper(substr(md5(o.id || 'r'), 1, 16)), a.id, 'redeem', "
            "-GREATEST(o.total / 500, 1), o.channel, '', '', 0, '{}', o.ordered_at "
            "FROM crm_order o JOIN loyalty_pointaccount a ON a.customer_id = o.customer_id WHERE o.id % 10 = 0"
        )
        conn.execute(
            f"INSERT INTO loyalty_pointtransaction {common}"
            "SELECT 'ptx_' || substr(c.public_id, 5, 10) || upper(substr(md5(c.id || 'x'), 1, 16)), a.id, 'expire', "
            "-(1 + c.id % 300), '', '', '', 0, '{}', now() - (c.id % 700) * interval '1 day' "
            "FROM crm_customer c JOIN loyalty_pointaccount a ON a.customer_id = c.id WHERE c.id % 20 = 0"
        )
        conn.execute(
            "INSERT INTO inventory_stocklevel (store_id, product_id, on_hand, reserved, updated_at) "
            "SELECT s.id, p.id, CASE WHEN (s.id + p.id) % 7 = 0 THEN 0 ELSE 1 + (s.id * p.id) % 20 END, 0, now() "
            "FROM crm_store s CROSS JOIN crm_product p"
        )
        conn.execute(
            "INSERT INTO inventory_reservation (public_id, kind, status, customer_id, store_id, product_id, quantity, "
            "pickup_code, expires_at, closed_at, created_at, slot_start) "
            "SELECT 'rsv_' || upper(substr(md5(n || 'rsv'), 1, 26)), "
            "CASE WHEN n % 5 = 0 THEN 'try_on' ELSE 'pickup' END, "
            "(ARRAY['fulfilled', 'fulfilled', 'fulfilled', 'expired', 'cancelled'])[1 + n % 5], "
            "1 + (n * 7919) % (SELECT max(id) FROM crm_customer), "
            "(SELECT min(id) FROM crm_store) + n % 10, (SELECT min(id) FROM crm_product) + n % 150, 1, "
            "lpad((n % 1000000)::text, 6, '0'), now(), now() - (n % 60) * interval '1 day', "
            "now() - (n % 60 + 2) * interval '1 day', "
            "CASE WHEN n % 5 = 0 THEN now() - (n % 60) * interval '1 day' END FROM generate_series(1, 20000) AS n"
        )
    segment = Segment.objects.create(
        name="bench", rules={"all": [{"field": "email_opt_in", "op": "eq", "value": True}]}
    )
    from django.utils import timezone

    sent = timezone.now() - timedelta(days=10)
    campaign = Campaign.objects.create(
        name="bench", segment=segment, subject="s", from_email="a@shop.example", body_text="x", status="sent",
        started_at=sent, sent_at=sent + timedelta(hours=1), audience_size=0,
    )  # fmt: skip
    with raw_connection() as conn:
        conn.execute(
            "INSERT INTO campaigns_campaignrecipient (campaign_id, customer_id, email, state, suppressed_reason, "
            "attempts, message_id, error, subject, sent_at) "
            "SELECT %s, id, email, 'sent', '', 1, '', '', 's', %s FROM crm_customer WHERE id % 5 = 0",
            [campaign.pk, sent],
        )
        conn.execute(
            "ANALYZE loyalty_pointtransaction, loyalty_pointaccount, inventory_stocklevel, inventory_reservation, "
            "campaigns_campaignrecipient"
        )


# --- 1. facts --------------------------------------------------------------------------------------
def bench_facts() -> list[list]:
    from insights.services import refresh_insights_facts

    with raw_connection() as conn:
        conn.execute(
            "ANALYZE crm_customer, crm_order, crm_orderline, channels_hub_ticket, channels_hub_message, "
            "loyalty_pointtransaction, loyalty_pointaccount"
        )
    rows = []
    for label, full in (("full refresh (every day)", True), ("nightly refresh (trailing 35 days)", False)):
        with stopwatch() as took:
            state = refresh_insights_facts(full=full)
        rows.append([label, f"{sum(state.rows.values()):,}", f"{took['seconds']:.1f}"])
    with raw_connection() as conn:
        conn.execute("ANALYZE insights_customerchannelday, insights_ticketfact, insights_pointsday")
    return rows


# --- 2. dashboard ----------------------------------------------------------------------------------
def _marketer_client():
    from django.contrib.auth.models import Group
    from django.test import Client

    from crm.models import User

    user, _ = User.objects.get_or_create(email=MARKETER, defaults={"display_name": "Bench marketer"})
    user.groups.add(Group.objects.get(name="marketer"))
    client = Client()
    client.force_login(user)
    return client


def bench_dashboard(runs: int) -> tuple[list[list], bool]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from insights.models import FactsState

    client = _marketer_client()
    today = timezone.localdate()
    periods = {
        "last 4 weeks (default)": {},
        "last 4 weeks, store TKY-SBY + channel ec": {"store": "TKY-SBY", "channel": "ec"},
        "last 365 days": {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()},
    }
    rows, met = [], True
    for label, params in periods.items():
        client.get("/insights/", params)  # warm
        pages, sqls = [], []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get("/insights/", params)
                pages.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
            statements = [
                q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
            ]
            sqls.append(_replay_once(statements))
        met &= min(pages) <= DASHBOARD_TARGET_S if "default" in label else True
        rows.append([label, f"{min(pages):.2f}", f"{median(pages):.2f}", f"{min(sqls):.2f}", f"{median(sqls):.2f}",
                     f"{median(pages) / median(sqls):.2f}"])  # fmt: skip
    # The same default page with no facts at all: every day from the base tables.
    state = FactsState.objects.get(key="facts")
    kept = state.built_through
    FactsState.objects.filter(pk=state.pk).update(built_through=None)
    try:
        live = []
        for _ in range(max(2, runs // 2)):
            start = time.perf_counter()
            client.get("/insights/")
            live.append(time.perf_counter() - start)
        rows.append(["last 4 weeks, base tables only (no facts)", f"{min(live):.2f}", f"{median(live):.2f}", "", "",
                     ""])  # fmt: skip
    finally:
        FactsState.objects.filter(pk=state.pk).update(built_through=kept)
    return rows, met


def _replay_once(statements: list[str]) -> float:
    with raw_connection() as conn:
        start = time.perf_counter()
        for sql in statements:
            conn.execute(sql).fetchall()
        return time.perf_counter() - start


# --- 3. build_recommendations ----------------------------------------------------------------------
def bench_build() -> tuple[list[list], bool]:
    from crm.models import OrderLine

    lines = OrderLine.objects.count()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), "build_recommendations", "--quiet"],
        env=os.environ.copy(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_gib = max(peak_kib, before) / 1024 / 1024
    with raw_connection() as conn, stopwatch() as sql:
        conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT o.customer_id, l.product_id FROM crm_orderline l "
            "JOIN crm_order o ON o.id = l.order_id WHERE o.customer_id IS NOT NULL) AS x"
        ).fetchone()
    met = seconds <= BUILD_TARGET_S and peak_gib <= BUILD_TARGET_GIB
    rows = [
        [f"build_recommendations ({lines:,} order lines, own process)", f"{seconds:.1f}", f"{peak_gib:.2f}",
         done.stdout.strip().splitlines()[-1]],
        ["bare SQL: the distinct (customer, product) purchases it reads", f"{sql['seconds']:.1f}", "", ""],
    ]  # fmt: skip
    return rows, met


# --- 4. recommendation API -------------------------------------------------------------------------
def bench_api(requests: int) -> tuple[list[list], bool]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from crm.models import Customer
    from crm.services import create_api_key

    _key, raw = create_api_key(name="bench insights", scopes=["customers:read", "catalog:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    high = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    rng = random.Random("insights-api")
    picks = list(Customer.objects.filter(pk__in=[rng.randint(1, high) for _ in range(requests)]).values_list(
        "public_id", flat=True))  # fmt: skip
    results = {}
    for label, params in (("online", {}), ("available_at=TKY-SBY", {"available_at": "TKY-SBY"})):
        api, sql = [], []
        client.get(f"/api/v1/customers/{picks[0]}/recommendations/", params)  # warm
        with raw_connection() as conn:
            for public_id in picks:
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    response = client.get(f"/api/v1/customers/{public_id}/recommendations/", params)
                    api.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
                statements = [
                    q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
                ]
                start = time.perf_counter()
                for statement in statements:
                    conn.execute(statement).fetchall()
                sql.append((time.perf_counter() - start) * 1000)
        results[label] = (api, sql)
    rows, met = [], True
    for label, (api, sql) in results.items():
        p99 = percentile(api, 99)
        met &= p99 <= API_TARGET_MS
        rows.append([label, len(api), f"{percentile(api, 50):.1f}", f"{p99:.1f}", f"{percentile(sql, 50):.1f}",
                     f"{percentile(sql, 99):.1f}", f"{percentile(api, 50) / percentile(sql, 50):.1f}",
                     "yes" if p99 <= API_TARGET_MS else "no"])  # fmt: skip
    return rows, met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="50,000 customers, 250,000 orders, 50,000 tickets")
    parser.add_argument("--runs", type=int, default=5, help="page loads per dashboard case (default 5)")
    parser.add_argument("--requests", type=int, default=500, help="recommendation requests (default 500)")
    parser.add_argument("--skip-build", action="store_true", help="keep the last recommendation build")
    parser.add_argument("--seed-only", action="store_true", help="seed the data set and stop")
    args = parser.parse_args(argv)
    prepare_database(parser)
    from django.conf import settings

    # The page is rendered without collectstatic: plain static URLs instead of the hashed manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    customers, orders, tickets = (50_000, 250_000, 50_000) if args.small else (1_000_000, 5_000_000, 1_000_000)
    seeded = seed(customers, orders, tickets)
    if args.seed_only:
        return 0
    from insights.models import ProductAffinity

    facts = bench_facts()
    build, build_met = ([], True)
    if not args.skip_build or seeded or not ProductAffinity.objects.exists():
        build, build_met = bench_build()
    dashboard, dashboard_met = bench_dashboard(args.runs)
    api, api_met = bench_api(args.requests)
    text = "\n\n".join(part for part in [
        f"## Insights at {customers:,} customers, {orders:,} orders, {tickets:,} tickets",
        environment_line() + " (shared machine: other engineers' suites and benchmarks were running)",
        "### Daily facts\n" + table(["refresh", "rows", "seconds"], facts),
        "### Dashboard page (marketer, whole page), target ≤ 2 s\n" + table(
            ["period", "page min s", "page median s", "its SQL min s", "its SQL median s", "page/SQL"], dashboard),
        ("### build_recommendations, targets ≤ 300 s and ≤ 4 GiB\n" + table(
            ["what", "seconds", "peak GiB", "result"], build)) if build else "",
        "### Recommendation API, target p99 ≤ 50 ms\n" + table(
            ["stock at", "requests", "API p50 ms", "API p99 ms", "SQL p50 ms", "SQL p99 ms", "API/SQL p50", "met"],
            api),
    ] if part)  # fmt: skip
    report("insights", text)
    return 0 if (dashboard_met and build_met and api_met) else 1


if __name__ == "__main__":
    sys.exit(main())
