"""Bench: what one order costs in process, through the API (test client: auth, idempotency, DRF,
the order pipeline) against the same writes as raw SQL (bench/serve.py's raw_order), sequentially on
one connection each: CPU per order of this process and SQL statements per order. CPU time is the
figure that survives a machine shared with others; wall time is printed for reference.

    BENCH_DATABASE_URL=postgres://…/tsunagu_bench_serve .venv/bin/python bench/orders.py --orders 300
(uses the served bench's dataset: run bench/serve.py --small once first).
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench_serve")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.serve_settings")
for name, value in {"DEBUG": "false", "SECRET_KEY": "bench-only-not-secret", "ALLOWED_HOSTS": "testserver",
                    "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING"}.items():  # fmt: skip
    os.environ.setdefault(name, value)

from bench.common import environment_line, prepare_database, table  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("CACHE_URL", os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/3"))
    url = prepare_database(parser)

    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from bench.serve import REDEEM_EVERY, raw_order, work_lists
    from crm.models import Store
    from crm.services import create_api_key

    _key, raw_key = create_api_key(name="orders bench", scopes=["orders:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    warehouse = Store.objects.filter(kind=Store.Kind.WAREHOUSE, active=True).order_by("pk").first().pk
    items = work_lists(random.Random(2))["orders"]
    tag = f"inproc-{int(time.time())}"

    def api_order(n):
        buyer, sku, price = items[n % len(items)]
        body = {
            "source": "bench-ec", "external_ref": f"{tag}-{n}", "channel": "ec", "customer": buyer,
            "ordered_at": "2026-12-01T10:00:00+09:00", "lines": [{"sku": sku, "quantity": 1, "unit_price": price}],
            "redeem_points": 100 if n % REDEEM_EVERY == 0 else 0,
        }  # fmt: skip
        answer = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"{tag}-{n}")
        if answer.status_code != 201:
            raise SystemExit(f"order answered {answer.status_code}: {answer.content[:300]}")

    for n in range(1, 21):  # warm caches and connections
        api_order(n)
    api, raw = [], []
    statements = 0
    conn = psycopg.connect(url, autocommit=True)
    cur = conn.cursor()
    for r in range(args.rounds):
        start, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            for n in range(args.orders):
                api_order(1000 * (r + 1) + n)
        api.append(((time.perf_counter() - start) / args.orders, (time.process_time() - cpu) / args.orders))
        statements = sum(q["sql"] not in ("BEGIN", "COMMIT") for q in queries.captured_queries) / args.orders
        start, cpu = time.perf_counter(), time.process_time()
        for n in range(args.orders):
            m = 1000 * (r + 1) + n
            raw_order(cur, conn, tag=f"{tag}-raw-{r}", n=n, item=items[m % len(items)], warehouse=warehouse,
                      redeem=100 if m % REDEEM_EVERY == 0 else 0)  # fmt: skip
        raw.append(((time.perf_counter() - start) / args.orders, (time.process_time() - cpu) / args.orders))
    conn.close()
    best_api, best_raw = min(api, key=lambda t: t[1]), min(raw, key=lambda t: t[1])
    rows = [
        ["API (test client), one connection", f"{best_api[0] * 1000:.1f}", f"{best_api[1] * 1000:.2f}",
         f"{statements:.2f}", f"{best_raw[0] / best_api[0]:.2f}"],
        ["raw SQL, same writes", f"{best_raw[0] * 1000:.1f}", f"{best_raw[1] * 1000:.2f}", "", "1.00"],
    ]  # fmt: skip
    print(f"## orders in process ({args.orders} orders × {args.rounds} rounds, best round by CPU)")
    print(environment_line())
    print()
    print(table(["path", "wall ms/order", "client CPU ms/order", "SQL statements/order", "ratio (wall)"], rows))
    print("\nStatements include the purchase summary task, run eagerly after commit (no broker).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
