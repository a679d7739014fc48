"""Contact hub benchmarks (not tests), with the bare SQL of the same work measured in the same run.

a) Inbound messages per second through POST /api/v1/hub/messages/ from two processes (two cores),
   senders drawn from the seeded customers by email, against the bare SQL of the same write (find
   the customer, lock the row, replay check, find the open ticket in the window, insert ticket /
   message, touch the ticket) from two processes with psycopg.
b) The agent inbox for an agent holding 10,000 open tickets: the page's ticket query through the
   ORM selector, the same SQL bare, and the whole page (GET /hub/) — p50/p99.

    .venv/bin/python bench/channels_hub.py            # 1,000,000 customers and 1,000,000 tickets
    .venv/bin/python bench/channels_hub.py --small    # 100,000 customers, 100,000 tickets
    .venv/bin/python bench/channels_hub.py --tickets 300000

The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tsunagu_bench_channels_hub),
created if missing and migrated; customers are seeded once, tickets and messages are (re)loaded by COPY
when their count differs.
"""

import argparse
import multiprocessing
import os
import random
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench_channels_hub")

from bench.common import prepare_database

INBOX_TARGET_P99_MS = 100
AGENT_OPEN_TICKETS = 10_000
_NOW = re.compile(r"'\d{4}-\d\d-\d\d[T ][\d:.]+\+00:00'")
AGENT_EMAIL = "bench.agent@tsunagu.example"
CHANNELS = ["email", "line", "chat", "phone", "web_form", "instagram"]


# --- data ---------------------------------------------------------------------------------------
def ensure_customers(count: int, seed: int) -> None:
    from crm.models import ChannelIdentity, Customer
    from crm.seeding import analyze, reset_sequences, seed_customers, seed_identities, seed_stores

    have = Customer.objects.count()
    if have >= count:
        return
    print(f"seeding {count - have:,} customers", file=sys.stderr)
    _written, identities = seed_customers(count=count - have, seed=seed, stores=seed_stores())
    seed_identities(identities)
    reset_sequences([Customer, ChannelIdentity])
    analyze([Customer, ChannelIdentity])


def ensure_tickets(count: int, seed: int, customers: int):
    """`count` tickets (one inbound message each) over the customers; about 5% open, and 10,000 open
    tickets assigned to the bench agent. Written with COPY."""
    from django.contrib.auth.models import Group
    from django.db import connection

    from channels_hub.models import Message, Ticket
    from crm.models import User
    from crm.seeding import analyze, anchor_time, reset_sequences, ulid_string, write_rows

    agent, _ = User.objects.get_or_create(email=AGENT_EMAIL, defaults={"display_name": "Bench agent"})
    agent.groups.add(Group.objects.get(name="agent"))
    others = [User.objects.get_or_create(email=f"bench.agent{i}@tsunagu.example")[0] for i in range(20)]
    if count <= Ticket.objects.count() <= count * 1.05:  # earlier inbound runs added a few
        return agent
    print(f"loading {count:,} tickets and messages by COPY", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE channels_hub_mention, channels_hub_csatresponse, channels_hub_message, "
                       "channels_hub_ticket, channels_hub_lead RESTART IDENTITY CASCADE")  # fmt: skip
    rng = random.Random(f"tickets:{seed}")
    anchor = anchor_time()
    anchor_ms = int(anchor.timestamp() * 1000)
    span_ms = 2 * 365 * 24 * 3600 * 1000
    agent_every = max(1, count // AGENT_OPEN_TICKETS)
    ticket_columns = ("id", "public_id", "customer_id", "subject", "status", "priority", "category", "tags",
                      "first_channel", "assignee_id", "last_message_at", "first_response_due", "resolution_due",
                      "created_at", "updated_at")  # fmt: skip

    def tickets():
        agent_count = 0
        for i in range(1, count + 1):
            if i % agent_every == 0 and agent_count < AGENT_OPEN_TICKETS:
                agent_count += 1
                status, assignee, age_ms = (
                    rng.choice(["new", "open", "pending"]),
                    agent.pk,
                    rng.randrange(30 * 86400_000),
                )
            elif rng.random() < 0.05:
                status, assignee = rng.choice(["new", "open", "pending"]), rng.choice([None, *[o.pk for o in others]])
                age_ms = rng.randrange(30 * 86400_000)
            else:
                status, assignee, age_ms = rng.choice(["resolved", "closed", "closed"]), None, rng.randrange(span_ms)
            at_ms = anchor_ms - age_ms
            at = anchor - timedelta(milliseconds=age_ms)
            channel = rng.choice(CHANNELS)
            due = at + timedelta(days=rng.choice([1, 2, 3]))
            public_id = "tkt_" + ulid_string(at_ms, rng.getrandbits(80))
            customer = rng.randint(1, customers)
            yield (i, public_id, customer, f"お問い合わせ {i}", status, "normal", "", "[]", channel, assignee, at, None,
                   due, at, at)  # fmt: skip

    write_rows(Ticket, ticket_columns, tickets())
    with connection.cursor() as cursor:  # one inbound message per ticket, derived in the database
        cursor.execute(
            "INSERT INTO channels_hub_message (id, public_id, ticket_id, channel, direction, author, body, "
            "attachments, external_message_id, email_message_id, sent_at, delivery_status, delivery_attempts, "
            "delivery_error, created_at) "
            "SELECT id, 'msg_' || substr(public_id, 5), id, first_channel, 'in', 'customer', "
            "'注文の件で問い合わせます', '[]', 'seed-' || id, '', last_message_at, '', 0, '', last_message_at "
            "FROM channels_hub_ticket"
        )
    reset_sequences([Ticket, Message])
    analyze([Ticket, Message])
    return agent


# --- a) inbound throughput ------------------------------------------------------------------------------
def inbound_bodies(emails: list[str], worker: int, run: str) -> list[dict]:
    """Each message from a different customer: a new ticket unless the customer has an open one."""
    return [
        {
            "channel": "email", "external_message_id": f"bench-{run}-{worker}-{i}",
            "sender": {"email": email}, "subject": "在庫確認", "body": "この商品の在庫はありますか？",
            "sent_at": "2026-11-24T10:00:00+09:00",
        }
        for i, email in enumerate(emails)
    ]  # fmt: skip


def _api_worker(raw_key, bodies, barrier, out):
    from django.db import connections
    from rest_framework.test import APIClient

    connections.close_all()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    client.post("/api/v1/hub/messages/", {**bodies[0], "external_message_id": bodies[0]["external_message_id"] + "w"},
                format="json")  # fmt: skip
    barrier.wait()
    start = time.perf_counter()
    for body in bodies:
        response = client.post("/api/v1/hub/messages/", body, format="json")
        assert response.status_code == 201, response.content
    out.put(time.perf_counter() - start)


SQL_CUSTOMER = ('SELECT id FROM crm_customer WHERE merged_into_id IS NULL AND email = %s '
                'ORDER BY created_at DESC LIMIT 1')  # fmt: skip
SQL_LOCK = "SELECT id FROM crm_customer WHERE id = %s FOR UPDATE"
SQL_REPLAY = "SELECT id FROM channels_hub_message WHERE channel = %s AND external_message_id = %s"
SQL_OPEN = ("SELECT id FROM channels_hub_ticket WHERE customer_id = %s AND status IN ('new', 'open', 'pending') "
            "AND merged_into_id IS NULL AND last_message_at >= %s "
            "ORDER BY last_message_at DESC, id DESC LIMIT 1")  # fmt: skip
SQL_TICKET = ("INSERT INTO channels_hub_ticket (public_id, customer_id, subject, status, priority, category, tags, "
              "first_channel, last_message_at, created_at, updated_at) VALUES (%s, %s, %s, 'new', 'normal', '', "
              "'[]', 'email', %s, now(), now()) RETURNING id")  # fmt: skip
SQL_MESSAGE = ("INSERT INTO channels_hub_message (public_id, ticket_id, channel, direction, author, body, attachments, "
               "external_message_id, email_message_id, sent_at, delivery_status, delivery_attempts, delivery_error, "
               "created_at) "
               "VALUES (%s, %s, 'email', 'in', 'customer', %s, '[]', %s, '', %s, '', 0, '', now())")  # fmt: skip
SQL_TOUCH = "UPDATE channels_hub_ticket SET last_message_at = %s, updated_at = now() WHERE id = %s"


def _sql_worker(url, bodies, barrier, out):
    from datetime import datetime

    import psycopg

    from crm.ids import new_public_id

    conn = psycopg.connect(url)
    barrier.wait()
    start = time.perf_counter()
    for body in bodies:
        sent_at = datetime.fromisoformat(body["sent_at"])
        with conn.transaction():
            row = conn.execute(SQL_CUSTOMER, [body["sender"]["email"]]).fetchone()
            conn.execute(SQL_LOCK, [row[0]]).fetchone()
            assert conn.execute(SQL_REPLAY, ["email", body["external_message_id"]]).fetchone() is None
            ticket = conn.execute(SQL_OPEN, [row[0], sent_at - timedelta(hours=72)]).fetchone()
            if ticket is None:
                ticket = conn.execute(SQL_TICKET, [new_public_id("tkt"), row[0], body["subject"], sent_at]).fetchone()
            conn.execute(SQL_MESSAGE, [new_public_id("msg"), ticket[0], body["body"], body["external_message_id"],
                                       sent_at])  # fmt: skip
            conn.execute(SQL_TOUCH, [sent_at, ticket[0]])
    out.put(time.perf_counter() - start)
    conn.close()


def run_parallel(target, args_for, processes: int) -> float:
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(w), barrier, out)) for w in range(processes)]
    for p in procs:
        p.start()
    times = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0, "a benchmark process failed"
    return max(times)


def bench_inbound(*, messages: int, processes: int, seed: int) -> list[list]:
    from django.db.models import Count

    from crm.models import Customer
    from crm.services import create_api_key

    run = str(int(time.time()))
    rng = random.Random(f"senders:{seed}:{run}")  # fresh senders each run: none threads into an earlier run
    max_id = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    ids = rng.sample(range(1, max_id + 1), 4 * messages)
    candidates = list(Customer.objects.filter(pk__in=ids, merged_into__isnull=True).exclude(email="")
                      .values_list("email", flat=True))  # fmt: skip
    shared = set(Customer.objects.filter(email__in=candidates).values("email").annotate(n=Count("id"))
                 .filter(n__gt=1).values_list("email", flat=True))  # fmt: skip
    emails = [e for e in dict.fromkeys(candidates) if e not in shared][: 2 * messages]
    assert len(emails) == 2 * messages, "not enough customers with a unique email"
    per = messages // processes
    _key, raw_key = create_api_key(name="bench hub", scopes=["hub:write"])
    # Disjoint senders for the two runs, so neither threads into tickets the other one opened.
    api_emails, sql_emails = emails[:messages], emails[messages:]
    api_seconds = run_parallel(
        _api_worker, lambda w: (raw_key, inbound_bodies(api_emails[w * per : (w + 1) * per], w, "api" + run)), processes
    )
    url = os.environ["DATABASE_URL"]
    sql_seconds = run_parallel(
        _sql_worker, lambda w: (url, inbound_bodies(sql_emails[w * per : (w + 1) * per], w, "sql" + run)), processes
    )
    total = per * processes
    api_rate, sql_rate = total / api_seconds, total / sql_seconds
    return [
        ["POST /api/v1/hub/messages/ (Django, DRF)", f"{total:,}", processes, f"{api_seconds:.1f}", f"{api_rate:,.0f}",
         f"{api_rate / sql_rate:.2f}"],
        ["bare SQL of the same write (psycopg)", f"{total:,}", processes, f"{sql_seconds:.1f}", f"{sql_rate:,.0f}",
         "1.00"],
    ]  # fmt: skip


# --- b) inbox ----------------------------------------------------------------------------------------------
def bench_inbox(*, agent, requests: int) -> tuple[list[list], bool]:
    import psycopg
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.common import percentile, raw_connection
    from channels_hub import selectors
    from channels_hub.views import INBOX_PAGE

    cases = {
        "mine (10,000 open)": selectors.InboxFilters(queue="mine"),
        "mine, pending only": selectors.InboxFilters(queue="mine", status="pending"),
        "overdue": selectors.InboxFilters(queue="overdue"),
        "unassigned": selectors.InboxFilters(queue="unassigned"),
        "all open, channel LINE": selectors.InboxFilters(queue="all", channel="line"),
    }
    raw = raw_connection()
    client = Client()
    client.force_login(agent)
    rows, met = [], True
    for name, filters in cases.items():
        qs = selectors.inbox(user=agent, filters=filters)[: INBOX_PAGE + 1]
        sql, params = qs.query.sql_with_params()
        bare = psycopg.ClientCursor(raw).mogrify(sql, params)
        with CaptureQueriesContext(connection) as captured:
            params_page = {k: v for k, v in filters.__dict__.items() if v}
            response = client.get("/hub/", params_page)
        assert response.status_code == 200
        # The overdue queue compares with now(): equal up to that timestamp.
        ran = {_NOW.sub("<now>", q["sql"]) for q in captured.captured_queries}
        same = "same" if _NOW.sub("<now>", bare) in ran else "DIFFERENT"
        orm, sql_ms, page = [], [], []
        for _ in range(requests):
            start = time.perf_counter()
            list(selectors.inbox(user=agent, filters=filters)[: INBOX_PAGE + 1])
            orm.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            raw.execute(bare).fetchall()
            sql_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            client.get("/hub/", params_page)
            page.append((time.perf_counter() - start) * 1000)
        ok = percentile(page, 99) <= INBOX_TARGET_P99_MS
        met &= ok
        rows.append([
            name, requests, f"{percentile(orm, 50):.1f}", f"{percentile(orm, 99):.1f}", f"{percentile(sql_ms, 50):.2f}",
            f"{percentile(sql_ms, 99):.2f}", f"{percentile(orm, 50) / percentile(sql_ms, 50):.1f}",
            f"{percentile(page, 50):.1f}", f"{percentile(page, 99):.1f}", "yes" if ok else "NO", same,
        ])  # fmt: skip
    raw.close()
    return rows, met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="100,000 customers and tickets, fewer requests")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--tickets", type=int)
    parser.add_argument("--messages", type=int, help="inbound messages to post (default 4,000; --small 1,000)")
    parser.add_argument("--requests", type=int, help="inbox requests per queue (default 200; --small 50)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    customers = args.customers or (100_000 if args.small else 1_000_000)
    tickets = args.tickets or customers
    messages = args.messages or (1_000 if args.small else 4_000)
    requests = args.requests or (50 if args.small else 200)

    prepare_database(parser)
    from django.conf import settings

    # The page is rendered without collectstatic: plain static URLs instead of the hashed manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from bench.common import environment_line, report, table

    ensure_customers(customers, args.seed)
    agent = ensure_tickets(tickets, args.seed, customers)
    inbox_rows, met = bench_inbox(agent=agent, requests=requests)
    inbound_rows = bench_inbound(messages=messages, processes=2, seed=args.seed)

    inbox_headers = [
        "queue", "requests", "ORM p50 ms", "ORM p99 ms", "SQL p50 ms", "SQL p99 ms", "ORM/SQL p50", "page p50 ms",
        "page p99 ms", f"page p99 ≤ {INBOX_TARGET_P99_MS} ms", "SQL = page's",
    ]  # fmt: skip
    lines = [
        f"## Contact hub at {customers:,} customers and {tickets:,} tickets (one message each)",
        "",
        environment_line() + " — the machine's 2 cores were shared with other engineers' work during the run.",
        "",
        "### a) Inbound messages/s, 2 processes (known customers by email; new ticket or threaded)",
        "",
        table(["path", "messages", "processes", "seconds", "messages/s", "ratio to bare SQL"], inbound_rows),
        "",
        f"### b) Agent inbox, agent with {AGENT_OPEN_TICKETS:,} open tickets (first page of 50)",
        "",
        table(inbox_headers, inbox_rows),
        "",
        f"target: inbox page p99 ≤ {INBOX_TARGET_P99_MS} ms ({'met' if met else 'NOT met'})",
    ]
    report("channels_hub", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
