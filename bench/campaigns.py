"""Bench: campaigns.

1. Segment count on PostgreSQL for a 3-rule segment ("lives in Kanto, bought outerwear in the last 90
   days, opted in") through the compiler (one ORM query with EXISTS; `purchased` reads campaigns'
   purchase summary), against hand-written SQL of the same question in the same run: the same EXISTS
   written by hand over the summary table, and the best plain SQL over crm's orders, lines and products.
   p50 / p95 and the ratios. The summary is rebuilt (and timed) after seeding, when it is empty, or
   with --rebuild.
2. Send throughput of one worker process: recipients frozen by start_campaign, then batches of
   CAMPAIGNS_BATCH_SIZE sent by the same code the Celery task runs (send_recipient_batch: claim row,
   render, hand to the backend, commit), to a local SMTP server (aiosmtpd in its own process; one SMTP
   connection per batch) and to the locmem backend. Messages/s and the time 100,000 mails take.

    .venv/bin/python bench/campaigns.py            # 1,000,000 customers / 5,000,000 orders
    .venv/bin/python bench/campaigns.py --small    # 50,000 customers / 250,000 orders
    .venv/bin/python bench/campaigns.py --segment-only --rebuild

BENCH_DATABASE_URL (default here: postgres://postgres@127.0.0.1:5432/tsunagu_bench_campaigns). The data
is seeded once with COPY (crm.seeding) and reused while its size matches.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench_campaigns")

from bench.common import (
    environment_line,
    median,
    percentile,
    prepare_database,
    raw_connection,
    report,
    stopwatch,
    table,
)

KANTO = ["東京都", "神奈川県", "千葉県", "埼玉県"]
SEGMENT = {
    "all": [
        {"field": "prefecture", "op": "in", "value": KANTO},
        {"field": "purchased", "op": "eq", "value": True, "category": "outerwear", "within_days": 90},
        {"field": "email_opt_in", "op": "eq", "value": True},
    ]
}
# Best plain SQL over crm's tables without the summary: of the forms tried at 5M orders (this EXISTS;
# IN over recent orders with the outerwear product ids resolved first; IN over recent orders with
# EXISTS on their lines) this one was fastest or equal, the planner hashing a parallel scan of lines.
HAND_SQL = """
SELECT count(*) FROM crm_customer c
WHERE c.merged_into_id IS NULL AND c.prefecture = ANY(%(prefs)s) AND c.email_opt_in
  AND EXISTS (
    SELECT 1 FROM crm_order o JOIN crm_orderline l ON l.order_id = o.id JOIN crm_product p ON p.id = l.product_id
    WHERE o.customer_id = c.id AND o.ordered_at >= %(since)s AND p.category = 'outerwear')
"""
# The same EXISTS the compiler makes, by hand, over campaigns' purchase summary.
SUMMARY_SQL = """
SELECT count(*) FROM crm_customer c
WHERE c.merged_into_id IS NULL AND c.prefecture = ANY(%(prefs)s) AND c.email_opt_in
  AND EXISTS (
    SELECT 1 FROM campaigns_purchasesummary s JOIN crm_product p ON p.id = s.product_id
    WHERE s.customer_id = c.id AND s.last_purchased_at >= %(since)s AND p.category = 'outerwear')
"""
# The segment: outerwear in the last 90 days, and points ≥ 1,000, and no open ticket.
POINTS_SEGMENT = {
    "all": [
        {"field": "purchased", "op": "eq", "value": True, "category": "outerwear", "within_days": 90},
        {"field": "points_balance", "op": "gte", "value": 1000},
        {"not": {"field": "open_ticket", "op": "eq", "value": True}},
    ]
}
_POINTS_PURCHASED = """EXISTS (
    SELECT 1 FROM campaigns_purchasesummary s JOIN crm_product p ON p.id = s.product_id
    WHERE s.customer_id = c.id AND s.last_purchased_at >= %(since)s AND p.category = 'outerwear')"""
_POINTS_NO_TICKET = """NOT EXISTS (
    SELECT 1 FROM channels_hub_ticket t WHERE t.customer_id = c.id AND t.status IN ('new', 'open', 'pending'))"""
# Hand-written forms of the points segment, the best of which the compiler must come within 1.2× of.
POINTS_HAND_SQL = {
    "EXISTS per rule": f"""
SELECT count(*) FROM crm_customer c WHERE c.merged_into_id IS NULL AND {_POINTS_PURCHASED}
  AND EXISTS (SELECT 1 FROM loyalty_pointaccount a WHERE a.customer_id = c.id AND a.balance >= 1000)
  AND {_POINTS_NO_TICKET}""",
    "join from the point accounts": f"""
SELECT count(*) FROM loyalty_pointaccount a JOIN crm_customer c ON c.id = a.customer_id
WHERE a.balance >= 1000 AND c.merged_into_id IS NULL AND {_POINTS_PURCHASED} AND {_POINTS_NO_TICKET}""",
    "the old scalar subquery (before)": f"""
SELECT count(*) FROM crm_customer c WHERE c.merged_into_id IS NULL AND {_POINTS_PURCHASED}
  AND COALESCE((SELECT a.balance FROM loyalty_pointaccount a WHERE a.customer_id = c.id LIMIT 1), 0) >= 1000
  AND {_POINTS_NO_TICKET}""",
}
BODY_TEXT = (
    "{{ customer.family_name }} {{ customer.given_name }}様\nポイント {{ customer.points_balance }}\n"
    "https://shop.example/sale\n停止: {{ unsubscribe_url }}"
)
COUNT_TARGET_MS = 500
SEND_TARGET = 500  # messages/s per worker process to SMTP


def seed(customers: int, orders: int) -> bool:
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

    have_customers, have_orders = Customer.objects.count(), Order.objects.count()
    if have_customers == customers and have_orders == orders:
        return False
    print(f"seeding {customers:,} customers and {orders:,} orders (COPY)", file=sys.stderr)
    with raw_connection() as conn:
        conn.execute(
            "TRUNCATE campaigns_mailevent, campaigns_campaignrecipient, campaigns_campaign, campaigns_segment, "
            "campaigns_suppression, campaigns_purchasesummary, crm_orderline, crm_order, crm_channelidentity, "
            "crm_customer CASCADE"
        )
    stores, products = seed_stores(), seed_products()
    _n, identities = seed_customers(count=customers, seed=7, stores=stores)
    seed_identities(identities)
    chunk = 500_000  # orders are generated in memory: in slices, so 5M fit on a small machine
    for i, start in enumerate(range(0, orders, chunk)):
        seed_orders(count=min(chunk, orders - start), seed=100 + i, stores=stores, products=products)
    reset_sequences([Customer, ChannelIdentity, Order, OrderLine])
    analyze([Customer, ChannelIdentity, Order, OrderLine])
    return True


def rebuild_summary(force: bool, seeded: bool) -> str:
    """The purchase summary after a COPY seed (which sends no signals): rebuilt and timed when needed."""
    from campaigns.models import PurchaseSummary
    from campaigns.services import rebuild_purchase_summary

    if not (force or seeded or not PurchaseSummary.objects.exists()):
        return f"Purchase summary kept from an earlier run ({PurchaseSummary.objects.count():,} rows)."
    print("rebuilding the purchase summary", file=sys.stderr)
    with stopwatch() as took:
        rows = rebuild_purchase_summary()
    return f"Purchase summary rebuilt (set-based, one transaction): {rows:,} rows in {took['seconds']:.1f} s."


def bench_segment(runs: int) -> tuple[list, int]:
    from django.db import connection
    from django.utils import timezone

    from campaigns.segments import segment_customers, validate_rules

    validate_rules(SEGMENT)
    times: dict[str, list[float]] = {"orm": [], "summary": [], "base": []}
    count = None
    with raw_connection() as raw:
        for i in range(runs + 1):  # the first round warms the caches and is not counted
            now = timezone.now()
            params = {"prefs": KANTO, "since": now - timedelta(days=90)}
            start = time.perf_counter()
            counts = {"orm": segment_customers(SEGMENT, now=now).count()}
            took = {"orm": (time.perf_counter() - start) * 1000}
            for name, sql in (("summary", SUMMARY_SQL), ("base", HAND_SQL)):
                start = time.perf_counter()
                counts[name] = raw.execute(sql, params).fetchone()[0]
                took[name] = (time.perf_counter() - start) * 1000
            assert len(set(counts.values())) == 1, counts
            count = counts["orm"]
            if i:
                for name, ms in took.items():
                    times[name].append(ms)
    connection.close()
    p50 = {name: median(t) for name, t in times.items()}

    def row(label, name, target=False):
        ok = "met" if p50[name] <= COUNT_TARGET_MS else "MISSED"
        return [
            label,
            f"{p50[name]:.0f}",
            f"{percentile(times[name], 95):.0f}",
            f"{p50[name] / p50['summary']:.2f}×",
            f"{p50[name] / p50['base']:.2f}×",
            f"≤ {COUNT_TARGET_MS}" if target else "",
            ok if target else "",
        ]

    rows = [
        row("segment count via compiler (ORM, EXISTS on the purchase summary)", "orm", target=True),
        row("hand-written SQL, same EXISTS on the purchase summary", "summary"),
        row("hand-written SQL, best plain form on orders/lines/products (no summary)", "base"),
    ]  # fmt: skip
    return rows, count


def bench_points_segment(runs: int) -> tuple[list, int]:
    """The compiler (count and the preview's one query) against each hand-written form, same run."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.segments import preview_segment, segment_customers, validate_rules

    validate_rules(POINTS_SEGMENT)
    times: dict[str, list[float]] = {"count": [], "preview": [], **{name: [] for name in POINTS_HAND_SQL}}
    counts = {}
    with raw_connection() as raw:
        for i in range(runs + 1):  # the first round warms the caches and is not counted
            now = timezone.now()
            took = {}
            start = time.perf_counter()
            counts["count"] = segment_customers(POINTS_SEGMENT, now=now).count()
            took["count"] = time.perf_counter() - start
            start = time.perf_counter()
            counts["preview"] = preview_segment(POINTS_SEGMENT, now=now)[0]
            took["preview"] = time.perf_counter() - start
            for name, sql in POINTS_HAND_SQL.items():
                start = time.perf_counter()
                counts[name] = raw.execute(sql, {"since": now - timedelta(days=90)}).fetchone()[0]
                took[name] = time.perf_counter() - start
            assert len(set(counts.values())) == 1, counts
            if i:
                for name, seconds in took.items():
                    times[name].append(seconds * 1000)
    connection.close()
    best = min(median(times[name]) for name in POINTS_HAND_SQL)
    labels = {"count": "compiler: count (ORM, EXISTS per rule)",
              "preview": "compiler: preview (count + first 20 ids, one query)"}  # fmt: skip
    rows = []
    for name, values in times.items():
        p50 = median(values)
        target = name in ("count", "preview")
        ok = p50 <= COUNT_TARGET_MS and p50 <= 1.2 * best
        rows.append([
            labels.get(name, f"hand-written SQL: {name}"), f"{p50:.0f}", f"{min(values):.0f}",
            f"{p50 / best:.2f}×", f"≤ {COUNT_TARGET_MS} ms, ≤ 1.2× best SQL" if target else "",
            ("met" if ok else "MISSED") if target else "",
        ])  # fmt: skip
    return rows, counts["count"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WORKER_THREADS = 4


def bench_send(limit: int) -> list:
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.core.mail import get_connection
    from django.db import connection as db_connections

    from campaigns import conf
    from campaigns.models import Campaign, CampaignRecipient
    from campaigns.services import create_campaign, create_segment, start_campaign
    from campaigns.services.sending import send_recipient_batch

    settings.CAMPAIGNS_THROTTLE = 0
    port = _free_port()
    smtp = subprocess.Popen(  # noqa: S603 — our own interpreter, fixed arguments
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.5)
    rows = []
    try:
        smtp_backend = "django.core.mail.backends.smtp.EmailBackend"
        backends = [
            ("SMTP (aiosmtpd on 127.0.0.1)", smtp_backend, 1, False),
            ("SMTP, CAMPAIGNS_RELAXED_COMMIT=True", smtp_backend, 7, True),
            ("locmem backend", "django.core.mail.backends.locmem.EmailBackend", 2, False),
            (f"SMTP, one worker process with {WORKER_THREADS} threads (-P threads)", smtp_backend, 8, False),
        ]
        for label, backend, month, relaxed in backends:
            settings.CAMPAIGNS_RELAXED_COMMIT = relaxed
            months = {"field": "birthday_month", "op": "in", "value": [month, month + 2, month + 4]}
            rules = {"all": [{"field": "email_opt_in", "op": "eq", "value": True}, months]}
            segment = create_segment(name=f"bench {label}", rules=rules)
            campaign = create_campaign(
                name=f"bench {label}", segment=segment, subject="{{ customer.family_name }}様 冬のセール",
                from_email="Tsunagu <news@tsunagu.example>", throttle=0,
                body_text=BODY_TEXT,
                body_html='<p>{{ customer.family_name }}様</p><a href="https://shop.example/sale">セール</a>'
                '<a href="{{ unsubscribe_url }}">配信停止</a>',
            )  # fmt: skip
            with stopwatch() as freeze:
                start_campaign(campaign=campaign, dispatch=False)
            ids = list(
                CampaignRecipient.objects.filter(campaign=campaign, state="pending")
                .order_by("pk")
                .values_list("pk", flat=True)[:limit]
            )
            size = conf.batch_size()
            mailed = 0
            batches = [ids[i : i + size] for i in range(0, len(ids), size)]

            threaded = "threads" in label

            def send(batch, backend=backend, campaign=campaign, threaded=threaded):
                connection = get_connection(backend, host="127.0.0.1", port=port, timeout=30)
                try:
                    return send_recipient_batch(
                        campaign_id=campaign.pk, recipient_ids=batch, mail_connection=connection
                    )
                finally:
                    if threaded:
                        db_connections.close()  # each thread's own database connection

            with stopwatch() as took:
                if threaded:
                    # A Celery worker started with `-P threads -c N` is one process running N batches at
                    # once, each with its own database and SMTP connection; the per-row claims keep it
                    # exactly-once exactly as with separate worker processes.
                    with ThreadPoolExecutor(WORKER_THREADS) as pool:
                        mailed = sum(pool.map(send, batches))
                else:
                    for batch in batches:
                        mailed += send(batch)
                        if backend.endswith("locmem.EmailBackend"):
                            from django.core import mail

                            mail.outbox = []
            rate = mailed / took["seconds"]
            audience = Campaign.objects.get(pk=campaign.pk).audience_size
            rows.append([
                label, f"{audience:,}", f"{freeze['seconds']:.1f}", f"{mailed:,}", f"{rate:,.0f}",
                f"{100_000 / rate:,.0f}", f"≥ {SEND_TARGET}" if "SMTP" in label else "",
                ("met" if rate >= SEND_TARGET else "MISSED") if "SMTP" in label else "",
            ])  # fmt: skip
    finally:
        smtp.terminate()
        smtp.wait(10)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="50,000 customers / 250,000 orders")
    parser.add_argument("--runs", type=int, default=7, help="timed segment counts (default 7)")
    parser.add_argument("--mails", type=int, default=None, help="mails per backend (default 20,000; small 5,000)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the purchase summary even if it is filled")
    parser.add_argument("--segment-only", action="store_true", help="skip the send benchmark")
    parser.add_argument(
        "--dataset", choices=["campaigns", "served"], default="campaigns",
        help="served: bench/serve.py's data (1M customers, 2M orders, point accounts, tickets), which the "
        "points segment needs",
    )  # fmt: skip
    args = parser.parse_args(argv)
    customers, orders = (50_000, 250_000) if args.small else (1_000_000, 5_000_000)
    if args.dataset == "served":
        orders = orders * 2 // 5
    mails = args.mails or (5_000 if args.small else 20_000)
    os.environ.setdefault("TSUNAGU_BASE_URL", "https://crm.example")
    prepare_database(parser)
    if args.dataset == "served":
        from bench import dataset

        seeded = dataset.ensure(customers=customers, orders=orders, tickets=customers // 5)
    else:
        seeded = seed(customers, orders)
    summary_line = rebuild_summary(args.rebuild, seeded)
    segment_rows, count = bench_segment(args.runs)
    points_rows, points_count = ([], 0)
    if args.dataset == "served":
        points_rows, points_count = bench_points_segment(args.runs)
    send_rows = [] if args.segment_only else bench_send(mails)
    text = "\n".join([
        f"## campaigns — {customers:,} customers, {orders:,} orders",
        environment_line() + " (machine shared with other engineers' work while measuring)",
        "",
        f"Segment: Kanto + bought outerwear in the last 90 days + opted in → {count:,} customers; "
        f"{args.runs} timed counts after one warm-up.",
        "",
        summary_line,
        "",
        table(["query", "p50 ms", "p95 ms", "÷ SQL on summary", "÷ SQL on orders", "target", ""], segment_rows),
        "",
        *([
            f"Segment: outerwear in the last 90 days + points ≥ 1,000 + no open ticket → {points_count:,} "
            f"customers; {args.runs} timed runs after one warm-up.",
            "",
            table(["query", "p50 ms", "min ms", "÷ best hand-written SQL", "target", ""], points_rows),
            "",
        ] if points_rows else []),
        *([
            f"Send, one process, batches of 500 with one mail connection each; {mails:,} mails per backend "
            "(time for 100,000 is extrapolated from the measured rate).",
            "",
            table(["backend", "audience frozen", "freeze s", "mails sent", "mails/s", "100,000 in s", "target", ""],
                  send_rows),
        ] if send_rows else []),
    ])  # fmt: skip
    report("campaigns", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
