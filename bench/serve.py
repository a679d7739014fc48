"""Bench: the API served as in production, against the same work as raw SQL in the same run.

gunicorn (sync workers sized for 2 cores, DEBUG off, Redis cache at BENCH_CACHE_URL) serves
`crm.wsgi` on PostgreSQL at 1,000,000 customers, 2,000,000 orders, ~526,000 point accounts, stock of
every product everywhere and 200,000 tickets (bench/dataset.py). wrk (Debian's package) drives it from
loopback with a Lua script (bench/serve.lua), 3 repeats per row; min and median are reported.

Rows:
- order ingest at 8 and 32 clients: one-line EC orders with stock, points earned and a quarter of them
  redeeming points, each with its own Idempotency-Key;
- the five hot reads at 32 clients: customer resolve, customer by member number, by phone, stock
  availability of a SKU, loyalty balance;
- a trivial DRF endpoint (project auth, scope, throttle, renderer) and a plain Django view, both under
  /api/v1/ behind the same middleware (bench/serve_urls.py);
- the same reads and orders as raw SQL through psycopg from separate processes, same clients;
- served segment preview (`POST /api/v1/segments/preview/`) of the issue's segment, 7 runs.

Beside each throughput: CPU per request of the gunicorn workers (or raw SQL client processes) and of
the PostgreSQL backends, read from /proc, so that the figures survive a machine shared with others.
Afterwards `check_points` and `check_stock` must be clean.

    .venv/bin/python bench/serve.py                   # 1M customers, 10 s per measurement
    .venv/bin/python bench/serve.py --duration 5 --only reads
"""

import argparse
import io
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench_serve")

from bench.campaigns import POINTS_SEGMENT  # noqa: E402
from bench.common import environment_line, median, prepare_database, report, table  # noqa: E402

WORKERS = 4  # sync workers for 2 cores: the work is CPU-bound, a little over one per core hides DB waits
CLK_TCK = os.sysconf("SC_CLK_TCK")
LUA = Path(__file__).with_name("serve.lua")
READS = ("resolve", "member_number", "phone", "availability", "balance")
READ_LABELS = {
    "resolve": "customer resolve (channel account)",
    "member_number": "customer by member number",
    "phone": "customer by phone (typed 090-…)",
    "availability": "stock availability of a SKU",
    "balance": "loyalty balance",
}
SCOPES = ["customers:read", "orders:write", "loyalty:read", "inventory:read", "campaigns:read"]
REDEEM_EVERY = 4  # one order in four pays 100 points
TARGETS = {"reads": 0.7, "trivial": 0.5, "orders": 0.4, "p99_8": 150, "preview_ms": 500}


# --- Processes and CPU ------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


class CpuMeter:
    """CPU seconds spent by a set of processes (gunicorn workers or SQL clients) and by the database's
    backends between start() and stop()."""

    def __init__(self, monitor, app_pids):
        self.monitor, self.app_pids = monitor, app_pids

    def _backends(self) -> dict[int, float]:
        rows = self.monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return {pid: cpu_seconds(pid) for (pid,) in rows}

    def start(self):
        self.app0 = {pid: cpu_seconds(pid) for pid in self.app_pids()}
        self.db0 = self._backends()

    def stop(self) -> tuple[float, float]:
        app = sum(cpu_seconds(pid) - self.app0.get(pid, 0.0) for pid in self.app_pids())
        db = sum(cpu - self.db0.get(pid, 0.0) for pid, cpu in self._backends().items())
        return app, db


# --- The server -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, cache_url: str) -> tuple[subprocess.Popen, int]:
    port = int(os.environ.get("BENCH_PORT") or 0) or free_port()  # BENCH_PORT: a port of your own
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "bench.serve_settings", "DATABASE_URL": db_url,
        "CACHE_URL": cache_url, "DEBUG": "false", "SECRET_KEY": "bench-only-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "CONN_MAX_AGE": "3600",
        "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore:No directory at",
    }  # fmt: skip
    server = subprocess.Popen(  # noqa: S603 — our own virtualenv's gunicorn, fixed arguments
        [str(ROOT / ".venv/bin/gunicorn"), "crm.wsgi:application", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/bench/plain/", timeout=2) as answer:
                if answer.status == 200:
                    return server, port
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("gunicorn did not start")


# --- Work lists ---------------------------------------------------------------------------------------
def work_lists(rng: random.Random) -> dict[str, list]:
    """Values drawn from the data: (http path, raw SQL argument) per read; order lines per order."""
    from django.db import connection

    from crm.normalize import format_phone_national

    def sample(sql, n=3000):
        with connection.cursor() as cursor:
            cursor.execute(sql, [n])
            return cursor.fetchall()

    out = {}
    out["resolve"] = [
        (f"/api/v1/customers/resolve/?channel={ch}&external_id={ext}", (ch, ext))
        for ch, ext in sample(
            "SELECT channel, external_id FROM crm_channelidentity TABLESAMPLE SYSTEM (2) "
            "WHERE channel IN ('ec', 'app', 'line') LIMIT %s"
        )
    ]
    customers = sample(
        "SELECT member_number, phone FROM crm_customer TABLESAMPLE SYSTEM (1) "
        "WHERE merged_into_id IS NULL AND phone <> '' LIMIT %s"
    )
    out["member_number"] = [(f"/api/v1/customers/?member_number={m}", (m,)) for m, _p in customers]
    out["phone"] = [
        (f"/api/v1/customers/?phone={format_phone_national(p).replace(' ', '')}", (p,)) for _m, p in customers
    ]
    out["availability"] = [(f"/api/v1/inventory/availability/?sku={s}", (s,)) for (s,) in sample(
        "SELECT sku FROM crm_product WHERE active LIMIT %s")]  # fmt: skip
    out["balance"] = [
        (f"/api/v1/loyalty/{public_id}/", (public_id,))
        for (public_id,) in sample("SELECT public_id FROM crm_customer TABLESAMPLE SYSTEM (1) LIMIT %s")
    ]
    products = sample("SELECT sku, price FROM crm_product WHERE active AND price > 0 LIMIT %s", 200)
    buyers = sample(
        "SELECT c.public_id FROM loyalty_pointaccount a TABLESAMPLE SYSTEM (2) JOIN crm_customer c "
        "ON c.id = a.customer_id WHERE a.balance >= 1000 AND c.merged_into_id IS NULL LIMIT %s",
        5000,
    )
    out["orders"] = [(b, *rng.choice(products)) for (b,) in buyers]
    for values in out.values():
        rng.shuffle(values)
    return out


def write_list(lines: list[str]) -> str:
    f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")  # noqa: SIM115
    f.write("\n".join(lines) + "\n")
    f.close()
    return f.name


# --- HTTP with wrk --------------------------------------------------------------------------------------
def run_wrk(port: int, *, mode: str, key: str, items: str, connections: int, duration: float, tag: str) -> dict:
    threads = 2 if connections >= 2 else 1
    ordered_at = datetime.now(UTC).isoformat(timespec="seconds")
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(duration)}s", "--timeout", "10s",
        "-s", str(LUA), f"http://127.0.0.1:{port}", "--", mode, key, items, tag, ordered_at, str(REDEEM_EVERY),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCHJSON "))
    return json.loads(line.removeprefix("BENCHJSON "))


def measure_http(meter, port, *, mode, key, items, connections, duration, repeats, tag) -> dict:
    # warm-up: every worker's first API request loads the key cache and imports lazily (seconds on a busy machine)
    run_wrk(port, mode=mode, key=key, items=items, connections=connections, duration=4, tag=f"{tag}-warm")
    results = []
    for i in range(repeats):
        meter.start()
        r = run_wrk(port, mode=mode, key=key, items=items, connections=connections, duration=duration,
                    tag=f"{tag}-{i}")  # fmt: skip
        app, db = meter.stop()
        ok = max(1, r["requests"])
        results.append({
            "rate": r["requests"] / (r["duration_us"] / 1e6), "p99": r["p99_us"] / 1000, "p50": r["p50_us"] / 1000,
            "app_ms": app * 1000 / ok, "db_ms": db * 1000 / ok,
            "errors": r["errors_status"] + r["errors_timeout"] + r["errors_connect"],
        })  # fmt: skip
    return summarise(results)


def summarise(results: list[dict]) -> dict:
    rates = [r["rate"] for r in results]
    return {
        "rate_median": median(rates), "rate_min": min(rates), "p99": median([r["p99"] for r in results]),
        "p50": median([r["p50"] for r in results]), "app_ms": median([r["app_ms"] for r in results]),
        "db_ms": median([r["db_ms"] for r in results]), "errors": sum(r["errors"] for r in results),
    }  # fmt: skip


# --- Raw SQL from separate processes ---------------------------------------------------------------------
READ_SQL = {
    # the customer body: customer (+ home store code), identities, points balance and tier
    "customer": (
        "SELECT c.id, c.public_id, c.member_number, c.family_name, c.given_name, c.family_name_kana, "
        "c.given_name_kana, c.email, c.phone, c.birth_date, c.postal_code, c.prefecture, c.address, s.code, "
        "c.email_opt_in, c.sms_opt_in, c.created_at FROM crm_customer c LEFT JOIN crm_store s ON s.id = "
        "c.home_store_id WHERE "
    ),
    "identities": "SELECT channel, external_id FROM crm_channelidentity WHERE customer_id = %s "
    "ORDER BY channel, external_id",
    "points": "SELECT a.balance, t.code FROM loyalty_pointaccount a LEFT JOIN loyalty_tier t ON t.id = a.tier_id "
    "WHERE a.customer_id = %s",
    "availability": (
        "SELECT s.code, s.name, s.kind, s.prefecture, COALESCE(l.on_hand - l.reserved, 0) FROM crm_store s "
        "LEFT JOIN inventory_stocklevel l ON l.store_id = s.id AND l.product_id = %s WHERE s.active "
        "ORDER BY s.kind DESC, s.code"
    ),
    "lots": "SELECT expires_at, sum(remaining) FROM loyalty_pointlot WHERE account_id = %s AND remaining > 0 "
    "AND expires_at > now() GROUP BY expires_at ORDER BY expires_at LIMIT 10",
}


def raw_read(cur, kind: str, args: tuple) -> None:
    def customer_body(where: str, params) -> None:
        for row in cur.execute(READ_SQL["customer"] + where, params).fetchall():
            cur.execute(READ_SQL["identities"], [row[0]]).fetchall()
            cur.execute(READ_SQL["points"], [row[0]]).fetchall()

    if kind == "resolve":
        customer_body(
            "c.id = (SELECT customer_id FROM crm_channelidentity WHERE channel = %s AND external_id = %s)", args
        )
    elif kind == "member_number":
        customer_body("c.merged_into_id IS NULL AND c.member_number = %s", args)
    elif kind == "phone":
        customer_body("c.merged_into_id IS NULL AND c.phone = %s", args)
    elif kind == "availability":
        (product,) = cur.execute("SELECT id FROM crm_product WHERE sku = %s", args).fetchone()
        cur.execute(READ_SQL["availability"], [product]).fetchall()
    elif kind == "balance":
        row = cur.execute("SELECT id FROM crm_customer WHERE public_id = %s", args).fetchone()
        account = cur.execute(
            "SELECT a.id, a.balance, t.code FROM loyalty_pointaccount a LEFT JOIN loyalty_tier t ON t.id = a.tier_id "
            "WHERE a.customer_id = %s",
            [row[0]],
        ).fetchone()
        if account:
            cur.execute(READ_SQL["lots"], [account[0]]).fetchall()


def raw_order(cur, conn, *, tag: str, n: int, item: tuple, warehouse: int, redeem: int) -> None:
    """The writes of one EC order with points, by hand: idempotency claim and answer, order and line,
    stock level and movement, redemption from the oldest lots, earned lot, balance, purchase summary."""
    from ulid import ULID

    buyer, sku, price = item
    ref = f"{tag}-{n}"
    now = datetime.now(UTC)
    with conn.transaction():
        (claim,) = cur.execute(
            "INSERT INTO crm_idempotencyrecord (owner, key, method, path, request_hash, state, created_at) "
            "VALUES ('raw', %s, 'POST', '/api/v1/orders/', %s, 'in_progress', %s) RETURNING id",
            [ref, ref, now],
        ).fetchone()
        customer, account, balance = cur.execute(
            "SELECT c.id, a.id, a.balance FROM crm_customer c JOIN loyalty_pointaccount a ON a.customer_id = c.id "
            "WHERE c.public_id = %s FOR UPDATE OF a",
            [buyer],
        ).fetchone()
        (product,) = cur.execute("SELECT id FROM crm_product WHERE sku = %s", [sku]).fetchone()
        cur.execute(
            "UPDATE inventory_stocklevel SET on_hand = on_hand - 1, updated_at = %s WHERE store_id = %s "
            "AND product_id = %s AND on_hand - reserved >= 1 RETURNING id",
            [now, warehouse, product],
        ).fetchone()
        redeem = min(redeem, balance)
        total = price - redeem
        earned = total // 100
        public_id = f"ord_{ULID()}"
        (order,) = cur.execute(
            "INSERT INTO crm_order (public_id, source, external_ref, channel, store_id, fulfilled_from_id, "
            "customer_id, ordered_at, subtotal, points_redeemed, total, points_earned, returned_amount, status, "
            "created_at) VALUES (%s, 'bench-raw', %s, 'ec', %s, %s, %s, %s, %s, %s, %s, %s, 0, 'completed', %s) "
            "RETURNING id",
            [public_id, ref, warehouse, warehouse, customer, now, price, redeem, total, earned, now],
        ).fetchone()
        cur.execute(
            "INSERT INTO crm_orderline (order_id, line_number, product_id, sku, quantity, unit_price, amount, "
            "returned_quantity) VALUES (%s, 1, %s, %s, 1, %s, %s, 0)",
            [order, product, sku, price, price],
        )
        cur.execute(
            "INSERT INTO inventory_stockmovement (store_id, product_id, kind, on_hand_delta, reserved_delta, "
            "reference, note, created_at) VALUES (%s, %s, 'sale', -1, 0, %s, '', %s)",
            [warehouse, product, public_id, now],
        )
        if redeem:
            lots = cur.execute(
                "SELECT id, remaining FROM loyalty_pointlot WHERE account_id = %s AND remaining > 0 "
                "AND expires_at > %s ORDER BY expires_at, id FOR UPDATE",
                [account, now],
            ).fetchall()
            uses, left = [], redeem
            for lot, remaining in lots:
                if left <= 0:
                    break
                take = min(left, remaining)
                uses.append((lot, take))
                left -= take
            (txn,) = cur.execute(
                "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, reference, "
                "reason, shortfall, detail, created_at, order_id, store_id) VALUES (%s, %s, 'redeem', %s, 'ec', "
                "%s, '', 0, '{}', %s, %s, %s) RETURNING id",
                [f"ptx_{ULID()}", account, -redeem, public_id, now, order, warehouse],
            ).fetchone()
            cur.execute(
                "UPDATE loyalty_pointlot l SET remaining = l.remaining - u.points FROM unnest(%s::bigint[], "
                "%s::int[]) AS u(id, points) WHERE l.id = u.id",
                [[u[0] for u in uses], [u[1] for u in uses]],
            )
            cur.execute(
                "INSERT INTO loyalty_pointlotuse (lot_id, transaction_id, points) SELECT u.id, %s, u.points "
                "FROM unnest(%s::bigint[], %s::int[]) AS u(id, points)",
                [txn, [u[0] for u in uses], [u[1] for u in uses]],
            )
        (txn,) = cur.execute(
            "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, reference, reason, "
            "shortfall, detail, created_at, order_id, store_id) VALUES (%s, %s, 'earn', %s, 'ec', %s, '', 0, "
            "'{}', %s, %s, %s) RETURNING id",
            [f"ptx_{ULID()}", account, earned, public_id, now, order, warehouse],
        ).fetchone()
        cur.execute(
            "INSERT INTO loyalty_pointlot (account_id, earned_by_id, points, remaining, expires_at, created_at) "
            "VALUES (%s, %s, %s, %s, %s + interval '365 days', %s)",
            [account, txn, earned, earned, now, now],
        )
        cur.execute(
            "UPDATE loyalty_pointaccount SET balance = balance + %s, lifetime_spend = lifetime_spend + %s "
            "WHERE id = %s",
            [earned - redeem, total, account],
        )
        cur.execute(
            "INSERT INTO campaigns_purchasesummary (customer_id, product_id, channel, last_purchased_at) "
            "VALUES (%s, %s, 'ec', %s) ON CONFLICT (customer_id, product_id, channel) "
            "DO UPDATE SET last_purchased_at = GREATEST(campaigns_purchasesummary.last_purchased_at, "
            "EXCLUDED.last_purchased_at)",
            [customer, product, now],
        )
        cur.execute(
            "UPDATE crm_idempotencyrecord SET state = 'done', response_status = 201, response_body = %s WHERE id = %s",
            [json.dumps({"id": public_id, "total": total, "points_earned": earned}), claim],
        )


def _raw_client(url, kind, items, deadline_at, start_barrier, out, tag, warehouse):
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    cur = conn.cursor()
    backend = conn.info.backend_pid  # its CPU is read here: the backend ends with the connection
    start_barrier.wait()
    rng = random.Random(tag)
    latencies, n = [], 0
    t0, db0 = time.process_time(), cpu_seconds(backend)
    while time.time() < deadline_at:
        item = items[rng.randrange(len(items))]
        start = time.perf_counter()
        if kind == "orders":
            n += 1
            raw_order(cur, conn, tag=tag, n=n, item=item, warehouse=warehouse,
                      redeem=100 if n % REDEEM_EVERY == 0 else 0)  # fmt: skip
        else:
            raw_read(cur, kind, item)
        latencies.append(time.perf_counter() - start)
    out.put((len(latencies), sorted(latencies), time.process_time() - t0, cpu_seconds(backend) - db0))
    conn.close()


def measure_raw(url, *, kind, items, clients, duration, repeats, tag, warehouse) -> dict:
    results = []
    for i in range(repeats + 1):  # the first round warms up and is not counted
        seconds = 2 if i == 0 else duration
        ctx = multiprocessing.get_context("fork")
        out, barrier = ctx.Queue(), ctx.Barrier(clients + 1)
        procs = []
        deadline_at = time.time() + seconds + 1.0  # processes start within the second
        for c in range(clients):
            p = ctx.Process(target=_raw_client, args=(url, kind, items, deadline_at, barrier, out,
                                                      f"{tag}-{i}-{c}", warehouse))  # fmt: skip
            p.start()
            procs.append(p)
        barrier.wait()
        began = time.time()
        gathered = [out.get() for _ in procs]
        elapsed = time.time() - began
        for p in procs:
            p.join()
        if i == 0:
            continue
        count = sum(g[0] for g in gathered)
        latencies = sorted(lat for g in gathered for lat in g[1])
        app, db = sum(g[2] for g in gathered), sum(g[3] for g in gathered)
        results.append({
            "rate": count / elapsed, "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "p50": latencies[len(latencies) // 2] * 1000, "app_ms": app * 1000 / count, "db_ms": db * 1000 / count,
            "errors": 0,
        })  # fmt: skip
    return summarise(results)


# --- Segment preview ------------------------------------------------------------------------------------
def measure_preview(port: int, key: str, runs: int) -> tuple[list[float], int]:
    import http.client

    body = json.dumps({"rules": POINTS_SEGMENT})
    times, count = [], None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(runs + 1):
        start = time.perf_counter()
        conn.request("POST", "/api/v1/segments/preview/", body=body,
                     headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})  # fmt: skip
        answer = conn.getresponse()
        data = json.loads(answer.read())
        took = (time.perf_counter() - start) * 1000
        if answer.status != 200:
            raise SystemExit(f"preview answered {answer.status}: {data}")
        count = data["count"]
        if i:
            times.append(took)
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    return times, count


# --- Main -----------------------------------------------------------------------------------------------
def fmt_row(label, r, *, clients, ratio="", target="", met=""):
    return [
        label, clients, f"{r['rate_median']:,.0f}", f"{r['rate_min']:,.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}",
        f"{r['app_ms']:.2f}", f"{r['db_ms']:.2f}", ratio, target, met, r["errors"] or "",
    ]  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="100,000 customers, 200,000 orders, 20,000 tickets")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000, help="seeded orders (default 2,000,000)")
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preview-runs", type=int, default=7)
    parser.add_argument("--only", choices=["reads", "orders", "baselines", "preview", "one-client"], action="append")
    parser.add_argument("--label", default="", help="a word for the report's title (e.g. before, after)")
    args = parser.parse_args(argv)
    only = set(args.only or ["reads", "orders", "baselines", "preview", "one-client"])
    if args.small:
        args.customers, args.orders, args.tickets = 100_000, 200_000, 20_000
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install wrk (Debian's package)")
    url = prepare_database(parser)
    cache_url = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/3")

    import psycopg
    from django.core.management import call_command
    from django.db import connection

    from bench import dataset
    from crm.models import Store
    from crm.services import create_api_key

    dataset.ensure(customers=args.customers, orders=args.orders, tickets=args.tickets)
    _key, raw_key = create_api_key(name="served bench", scopes=SCOPES)
    warehouse = Store.objects.filter(kind=Store.Kind.WAREHOUSE, active=True).order_by("pk").first().pk
    lists = work_lists(random.Random(1))
    connection.close()

    files = {kind: write_list([path for path, _a in lists[kind]]) for kind in READS}
    files["plain"] = write_list(["/api/v1/bench/plain/"])
    files["trivial"] = write_list(["/api/v1/bench/trivial/"])
    files["orders"] = write_list([" ".join(map(str, item)) for item in lists["orders"]])
    monitor = psycopg.connect(url, autocommit=True)
    server, port = start_server(url, cache_url)
    run_tag = f"{int(time.time())}"
    rows, raw_rows, notes = [], [], []
    try:
        meter = CpuMeter(monitor, lambda: children_of(server.pid))
        common = {"key": raw_key, "duration": args.duration, "repeats": args.repeats}
        results = {}
        if "baselines" in only or "reads" in only:
            for name in ("plain", "trivial"):
                results[name] = measure_http(meter, port, mode="get", items=files[name], connections=32,
                                             tag=f"{run_tag}-{name}", **common)  # fmt: skip
        if "reads" in only:
            for kind in READS:
                results[kind] = measure_http(meter, port, mode="get", items=files[kind], connections=32,
                                             tag=f"{run_tag}-{kind}", **common)  # fmt: skip
                results[f"raw-{kind}"] = measure_raw(
                    url, kind=kind, items=[a for _p, a in lists[kind]], clients=32,
                    duration=args.duration, repeats=args.repeats, tag=f"{run_tag}-raw-{kind}", warehouse=warehouse,
                )  # fmt: skip
        if "one-client" in only:
            # CPU per request without contention: one connection, so no worker waits for another and
            # no accept wakes idle workers; what a request itself costs, however busy the machine is.
            for name in ("plain", "trivial", *READS):
                results[f"one-{name}"] = measure_http(meter, port, mode="get", items=files[name], connections=1,
                                                      tag=f"{run_tag}-one-{name}", **common)  # fmt: skip
            results["one-orders"] = measure_http(meter, port, mode="order", items=files["orders"], connections=1,
                                                 tag=f"{run_tag}-one-orders", **common)  # fmt: skip
        if "orders" in only:
            for clients in (8, 32):
                results[f"orders-{clients}"] = measure_http(
                    meter, port, mode="order", items=files["orders"], connections=clients,
                    tag=f"{run_tag}-o{clients}", **common,
                )  # fmt: skip
                results[f"raw-orders-{clients}"] = measure_raw(
                    url, kind="orders", items=lists["orders"], clients=clients, duration=args.duration,
                    repeats=args.repeats, tag=f"{run_tag}-raw-o{clients}", warehouse=warehouse,
                )  # fmt: skip
        preview = None
        if "preview" in only:
            preview = measure_preview(port, raw_key, args.preview_runs)
    finally:
        server.terminate()
        server.wait(30)
        monitor.close()
        for f in files.values():
            os.unlink(f)

    trivial, plain = results.get("trivial"), results.get("plain")
    if plain:
        rows.append(fmt_row("plain Django view (project middleware)", plain, clients=32, ratio="1.00"))
    if trivial and plain:
        ratio = trivial["rate_median"] / plain["rate_median"]
        rows.append(fmt_row("trivial DRF endpoint (auth, scope, throttle)", trivial, clients=32,
                            ratio=f"{ratio:.2f} of plain", target=f"≥ {TARGETS['trivial']}",
                            met="met" if ratio >= TARGETS["trivial"] else "MISSED"))  # fmt: skip
    for kind in READS:
        if kind in results:
            r, raw = results[kind], results[f"raw-{kind}"]
            ratio = r["rate_median"] / trivial["rate_median"] if trivial else 0
            rows.append(fmt_row(READ_LABELS[kind], r, clients=32, ratio=f"{ratio:.2f} of trivial",
                                target=f"≥ {TARGETS['reads']}",
                                met="met" if ratio >= TARGETS["reads"] else "MISSED"))  # fmt: skip
            raw_rows.append(fmt_row(f"raw SQL: {READ_LABELS[kind]}", raw, clients=32,
                                    ratio=f"API {r['rate_median'] / raw['rate_median']:.2f} of SQL"))  # fmt: skip
    for clients in (8, 32):
        if f"orders-{clients}" in results:
            r, raw = results[f"orders-{clients}"], results[f"raw-orders-{clients}"]
            ratio = r["rate_median"] / raw["rate_median"]
            met = ratio >= TARGETS["orders"] and (clients != 8 or r["p99"] <= TARGETS["p99_8"])
            target = f"≥ {TARGETS['orders']} of SQL" + (f", p99 ≤ {TARGETS['p99_8']} ms" if clients == 8 else "")
            label = "order ingest (EC, 1 line, stock, points, Idempotency-Key)"
            rows.append(fmt_row(label, r, clients=clients, ratio=f"{ratio:.2f} of SQL", target=target,
                                met="met" if met else "MISSED"))  # fmt: skip
            raw_rows.append(fmt_row("raw SQL: the same order's writes, one transaction", raw, clients=clients))
    one_rows = []
    for name in ("plain", "trivial", *READS, "orders"):
        r = results.get(f"one-{name}")
        if r:
            label = {"plain": "plain Django view", "trivial": "trivial DRF endpoint", "orders": "order ingest"}
            one_rows.append([label.get(name, READ_LABELS.get(name)), f"{r['rate_median']:,.0f}", f"{r['p50']:.2f}",
                             f"{r['app_ms']:.2f}", f"{r['db_ms']:.2f}", f"{r['app_ms'] + r['db_ms']:.2f}"])  # fmt: skip
    if one_rows:
        notes += [
            "CPU per request at one client (no contention between workers):",
            "",
            table(["row", "req/s", "p50 ms", "app CPU ms/req", "PG CPU ms/req", "total ms/req"], one_rows),
            "",
        ]
    if preview:
        times, count = preview
        p50 = median(times)
        notes.append(
            f"Served segment preview (`POST /api/v1/segments/preview/`, outerwear in 90 days + points ≥ 1,000 + no "
            f"open ticket → {count:,} customers), {len(times)} runs after a warm-up: median {p50:.0f} ms, min "
            f"{min(times):.0f} ms, max {max(times):.0f} ms (target ≤ {TARGETS['preview_ms']} ms: "
            f"{'met' if p50 <= TARGETS['preview_ms'] else 'MISSED'})."
        )
    checks = []
    for command in ("check_points", "check_stock"):
        try:
            call_command(command, verbosity=0, stdout=io.StringIO())
            checks.append(f"`{command}` clean")
        except SystemExit as exc:
            checks.append(f"`{command}` FAILED ({exc.code})")
        except Exception as exc:
            checks.append(f"`{command}` FAILED ({exc})")
    headers = ["row", "clients", "req/s median", "req/s min", "p50 ms", "p99 ms", "app CPU ms/req",
               "PG CPU ms/req", "ratio", "target", "", "errors"]  # fmt: skip
    text = "\n".join([
        f"## served API{' — ' + args.label if args.label else ''}: {args.customers:,} customers, "
        f"{args.orders:,} orders, gunicorn {WORKERS} sync workers",
        environment_line() + " (machine shared with other engineers' work while measuring)",
        "",
        f"wrk on loopback, {args.repeats} × {args.duration:.0f} s per row after a 4 s warm-up; raw SQL from "
        "separate psycopg processes with the same clients. CPU per request: gunicorn workers (or the SQL "
        "client processes) and PostgreSQL backends, from /proc.",
        "",
        table(headers, rows + raw_rows),
        "",
        *notes,
        "After the run: " + ", ".join(checks) + ".",
    ])  # fmt: skip
    report(f"serve{'-' + args.label if args.label else ''}", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
