"""Inventory benchmark (PostgreSQL; not a test): availability of one SKU across every location, reservations
per second under concurrent clients, and a 10,000-row stock sync, each against bare SQL doing the same
work through psycopg in the same run.

    .venv/bin/python bench/inventory.py            # 200 locations x 10,000 products (2M stock levels)
    .venv/bin/python bench/inventory.py --small    # 20 locations x 2,000 products, fewer requests

The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tsunagu_bench), created if
missing and migrated; its bench stores/products (codes BENCH-*, SKUs BX-*) and all inventory rows are
replaced when the scale changes. Results go to bench/results/inventory.txt.
"""

import argparse
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import prepare_database

P99_TARGET_MS = 20
SYNC_TARGET_S = 3.0
CLIENTS = 20

AVAILABILITY_SQL = """
    SELECT s.code, s.name, s.kind, s.prefecture, COALESCE(l.on_hand - l.reserved, 0)
    FROM crm_store s
    LEFT JOIN inventory_stocklevel l
      ON l.store_id = s.id AND l.product_id = (SELECT id FROM crm_product WHERE sku = %s)
    WHERE s.active
    ORDER BY s.kind DESC, s.code
"""


def seed(*, locations: int, products: int) -> None:
    """Stores, products and a stock level (with its receipt movement) for every pair, written server-side."""
    from django.db import connection

    from crm.models import Customer, Product, Store
    from inventory.models import StockLevel

    store_count = Store.objects.filter(code__startswith="BENCH-").count()
    product_count = Product.objects.filter(sku__startswith="BX-").count()
    levels = StockLevel.objects.count()
    if store_count == locations and product_count == products and levels == locations * products:
        return
    print(f"seeding {locations} locations x {products:,} products", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE inventory_stockmovement, inventory_reservation, inventory_stocklevel, inventory_discrepancy, "
            "inventory_transfer, inventory_stocksyncbatch"
        )
    Store.objects.filter(code__startswith="BENCH-").delete()
    Product.objects.filter(sku__startswith="BX-").delete()
    prefectures = ["東京都", "神奈川県", "大阪府", "愛知県", "福岡県", "北海道", "千葉県", "埼玉県", "京都府", "兵庫県"]
    Store.objects.bulk_create(
        [Store(code="BENCH-WH", name="EC倉庫", kind=Store.Kind.WAREHOUSE, prefecture="千葉県")]
        + [
            Store(code=f"BENCH-{i:03d}", name=f"店舗{i}", prefecture=prefectures[i % len(prefectures)])
            for i in range(1, locations)
        ]
    )
    Product.objects.bulk_create(
        (Product(sku=f"BX-{i:05d}", name=f"商品{i}", price=1000 + i % 50 * 100) for i in range(products)),
        batch_size=5000,
    )
    if Customer.objects.count() < 200:
        Customer.objects.bulk_create(Customer(family_name="予約", given_name=str(i)) for i in range(200))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO inventory_stocklevel (store_id, product_id, on_hand, reserved, updated_at)
            SELECT s.id, p.id, (s.id * 7 + p.id * 13) % 20, 0, now()
            FROM crm_store s CROSS JOIN crm_product p
            WHERE s.code LIKE 'BENCH-%' AND p.sku LIKE 'BX-%'
            """
        )
        cursor.execute(
            """
            INSERT INTO inventory_stockmovement
                (store_id, product_id, kind, on_hand_delta, reserved_delta, reference, note, created_at)
            SELECT store_id, product_id, 'receipt', on_hand, 0, 'bench', '', now()
            FROM inventory_stocklevel WHERE on_hand > 0
            """
        )
        cursor.execute("ANALYZE crm_store, crm_product, inventory_stocklevel, inventory_stockmovement")


def bench_availability(*, requests: int, rng: random.Random, raw) -> list[list]:
    from rest_framework.test import APIClient

    from bench.common import median, percentile
    from crm.models import Product
    from crm.services import create_api_key
    from inventory import selectors

    _, key = create_api_key(name="bench-inventory", scopes=["inventory:read", "inventory:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    skus = [f"BX-{rng.randrange(Product.objects.filter(sku__startswith='BX-').count()):05d}" for _ in range(requests)]
    api, orm, sql = [], [], []
    for i, sku in enumerate(skus + skus[:20]):  # the first 20 warm up
        t = time.perf_counter()
        response = client.get("/api/v1/inventory/availability/", {"sku": sku})
        t_api = time.perf_counter() - t
        assert response.status_code == 200
        t = time.perf_counter()
        rows = selectors.availability(sku=sku)
        t_orm = time.perf_counter() - t
        t = time.perf_counter()
        raw_rows = raw.execute(AVAILABILITY_SQL, [sku]).fetchall()
        t_sql = time.perf_counter() - t
        assert [r.available for r in rows] == [r[4] for r in raw_rows]
        if i >= 20:
            api.append(t_api * 1000)
            orm.append(t_orm * 1000)
            sql.append(t_sql * 1000)
    locations = len(raw_rows)
    base50, base99 = median(sql), percentile(sql, 99)
    return [
        [f"availability, API ({locations} locations)", f"{median(api):.2f}", f"{percentile(api, 99):.2f}",
         f"{percentile(api, 99) / base99:.1f}x", f"p99 ≤ {P99_TARGET_MS} ms"],
        ["availability, selector (ORM)", f"{median(orm):.2f}", f"{percentile(orm, 99):.2f}",
         f"{percentile(orm, 99) / base99:.1f}x", ""],
        ["availability, bare SQL", f"{base50:.2f}", f"{base99:.2f}", "1.0x", ""],
    ]  # fmt: skip


def _reset_reservations() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inventory_stockmovement WHERE kind IN ('reserve', 'release')")
        cursor.execute("DELETE FROM inventory_reservation")
        cursor.execute("UPDATE inventory_stocklevel SET reserved = 0 WHERE reserved <> 0")


def _run_clients(work, per_client: int) -> float:
    """Start CLIENTS threads behind a barrier, each doing `per_client` calls; returns calls per second."""
    from django.db import connections

    barrier = threading.Barrier(CLIENTS + 1)
    errors = []

    def client(i):
        try:
            barrier.wait()
            for n in range(per_client):
                work(i, n)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return CLIENTS * per_client / elapsed


RAW_RESERVE = [
    "SELECT id, on_hand, reserved FROM inventory_stocklevel WHERE store_id = %s AND product_id = %s FOR UPDATE",
    """INSERT INTO inventory_reservation (public_id, kind, status, customer_id, store_id, product_id, quantity,
        pickup_code, expires_at, created_at) VALUES (%s, 'hold', 'active', %s, %s, %s, 1, %s, now() + interval '3 days',
        now())""",
    """INSERT INTO inventory_stockmovement (store_id, product_id, kind, on_hand_delta, reserved_delta, reference,
        idempotency_key, note, created_at) VALUES (%s, %s, 'reserve', 0, 1, %s, %s, '', now())""",
    "UPDATE inventory_stocklevel SET reserved = reserved + 1, updated_at = now() WHERE id = %s",
]


def bench_reservations(*, per_client: int, rng: random.Random) -> list[list]:
    import os

    import psycopg
    from rest_framework.test import APIClient

    from crm.ids import new_public_id
    from crm.models import Customer, Product, Store
    from crm.services import create_api_key
    from inventory.models import StockLevel
    from inventory.services import receive_stock
    from inventory.services.reservations import new_pickup_code as code  # the raw run makes codes the same way

    _, key = create_api_key(name="bench-reserve", scopes=["inventory:write"])
    customers = list(Customer.objects.values_list("pk", "public_id")[:200])
    stores = list(Store.objects.filter(code__startswith="BENCH-", kind=Store.Kind.STORE).values_list("pk", "code"))
    products = list(Product.objects.filter(sku__startswith="BX-").values_list("pk", "sku"))
    hot_store, hot_product = stores[0], products[0]
    total = CLIENTS * per_client
    hot = StockLevel.objects.get(store_id=hot_store[0], product_id=hot_product[0])
    if hot.on_hand < 10**6:  # plenty for every call, received through the ledger like any stock
        receive_stock(store=Store(pk=hot_store[0]), product=Product(pk=hot_product[0]), quantity=10**6 - hot.on_hand)
    # Spread picks pairs with stock left for every call (counts are 0-19 per pair).
    spread = [(rng.choice(stores), rng.choice(products)) for _ in range(total * 2)]
    stocked = set(
        StockLevel.objects.filter(on_hand__gte=5, store_id__in={s[0] for s, _ in spread}).values_list(
            "store_id", "product_id"
        )
    )
    spread = [(s, p) for s, p in spread if (s[0], p[0]) in stocked][:total]
    assert len(spread) == total, "not enough stocked pairs for the spread run"

    def pick(kind, i, n):
        return (hot_store, hot_product) if kind == "hot" else spread[i * per_client + n]

    rows = []
    for kind in ("hot", "spread"):
        _reset_reservations()
        clients = {}

        def api_call(i, n, kind=kind, clients=clients):
            c = clients.get(i)
            if c is None:
                c = clients[i] = APIClient()
                c.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
            (_, store), (_, sku) = pick(kind, i, n)
            body = {"sku": sku, "store": store, "quantity": 1, "kind": "hold", "customer": customers[i][1]}
            response = c.post("/api/v1/inventory/reservations/", body, format="json")
            assert response.status_code == 201, response.content

        api_rate = _run_clients(api_call, per_client)
        _reset_reservations()
        conns = {}

        def raw_call(i, n, kind=kind, conns=conns):
            conn = conns.get(i)
            if conn is None:
                conn = conns[i] = psycopg.connect(os.environ["DATABASE_URL"])
            (store_id, _), (product_id, _) = pick(kind, i, n)
            with conn.transaction():
                level_id, on_hand, reserved = conn.execute(RAW_RESERVE[0], [store_id, product_id]).fetchone()
                assert on_hand - reserved >= 1
                rid = new_public_id("rsv")
                conn.execute(RAW_RESERVE[1], [rid, customers[i][0], store_id, product_id, code()])
                conn.execute(RAW_RESERVE[2], [store_id, product_id, rid, f"{rid}:reserve"])
                conn.execute(RAW_RESERVE[3], [level_id])

        raw_rate = _run_clients(raw_call, per_client)
        for conn in conns.values():
            conn.close()
        label = "one hot SKU at one store" if kind == "hot" else "spread SKUs and stores"
        rows.append([f"reservations/s, {CLIENTS} clients, {label}", f"{api_rate:.0f}", f"{raw_rate:.0f}",
                     f"{api_rate / raw_rate:.2f}"])  # fmt: skip
    _reset_reservations()
    return rows


def bench_sync(*, rows: int, rng: random.Random, raw) -> list[list]:
    from rest_framework.test import APIClient

    from crm.models import Product, Store
    from crm.services import create_api_key

    _, key = create_api_key(name="bench-sync", scopes=["inventory:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    store = Store.objects.filter(code__startswith="BENCH-", kind=Store.Kind.STORE).order_by("code").last()
    skus = list(Product.objects.filter(sku__startswith="BX-").order_by("sku").values_list("sku", "pk")[:rows])
    counts = [{"sku": sku, "on_hand": rng.randrange(30)} for sku, _ in skus]
    start = time.perf_counter()
    response = client.post("/api/v1/inventory/stock-sync/", {"store": store.code, "counts": counts}, format="json")
    api_s = time.perf_counter() - start
    assert response.status_code == 200, response.content
    assert response.json()["applied"] == len(counts)
    changed = response.json()["changed"]
    # Bare SQL: the same counts, applied the same way (lock, ledger rows, level update) in one transaction.
    ids = [pk for _, pk in skus]
    new = [rng.randrange(30) for _ in skus]
    start = time.perf_counter()
    with raw.transaction():
        current = dict(
            raw.execute(
                "SELECT product_id, on_hand FROM inventory_stocklevel WHERE store_id = %s AND product_id = ANY(%s) "
                "ORDER BY id FOR UPDATE",
                [store.pk, ids],
            ).fetchall()
        )
        delta = [(pid, n - current[pid]) for pid, n in zip(ids, new, strict=True) if n != current[pid]]
        raw.execute(
            """INSERT INTO inventory_stockmovement (store_id, product_id, kind, on_hand_delta, reserved_delta,
               reference, note, created_at)
               SELECT %s, pid, 'count_correction', d, 0, 'bench-raw', '', now() FROM unnest(%s::bigint[], %s::int[])
               AS v(pid, d)""",
            [store.pk, [p for p, _ in delta], [d for _, d in delta]],
        )
        raw.execute(
            """UPDATE inventory_stocklevel l SET on_hand = v.n, updated_at = now()
               FROM unnest(%s::bigint[], %s::int[]) AS v(pid, n) WHERE l.store_id = %s AND l.product_id = v.pid""",
            [ids, new, store.pk],
        )
    sql_s = time.perf_counter() - start
    return [
        [f"stock sync, {len(counts):,} rows ({changed:,} changed), API", f"{api_s:.2f}", f"{api_s / sql_s:.1f}x",
         f"≤ {SYNC_TARGET_S:.0f} s"],
        [f"stock sync, {len(counts):,} rows ({len(delta):,} changed), bare SQL", f"{sql_s:.2f}", "1.0x", ""],
    ]  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="20 locations x 2,000 products, fewer requests")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    locations, products = (20, 2_000) if args.small else (200, 10_000)
    requests, per_client, sync_rows = (100, 10, 2_000) if args.small else (200, 25, 10_000)

    prepare_database(parser)
    from bench.common import environment_line, raw_connection, report, table
    from inventory.selectors import stock_mismatches

    rng = random.Random(args.seed)
    seed(locations=locations, products=products)
    raw = raw_connection()
    availability = bench_availability(requests=requests, rng=rng, raw=raw)
    reservations = bench_reservations(per_client=per_client, rng=rng)
    sync = bench_sync(rows=sync_rows, rng=rng, raw=raw)
    raw.close()
    # The bare-SQL runs wrote ledger rows too; the ledger must still explain every level.
    consistent = "levels = ledger" if not stock_mismatches() else "LEDGER MISMATCH"
    text = "\n\n".join(
        [
            f"Inventory benchmark: {locations} locations x {products:,} products "
            f"({locations * products:,} stock levels); {environment_line()}; {consistent}. "
            "Shared 2-core machine: other engineers' processes were running.",
            table(["availability of one SKU", "p50 ms", "p99 ms", "p99 vs SQL", "target"], availability),
            table(["reservations", "Tsunagu (API)", "bare SQL", "ratio"], reservations),
            table(["stock sync", "seconds", "vs SQL", "target"], sync),
        ]
    )
    report("inventory", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
