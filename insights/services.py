"""insights' writes: the daily facts and the recommendation tables, both derived from the other apps'
rows and rebuilt set-based (nothing else writes them)."""

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from scipy import sparse

from crm.models import Customer, Order, OrderLine, Product
from crm.seeding import write_rows

from .conf import setting
from .facts import FACTS, Span, analytics, table
from .models import FactsState, PopularProduct, ProductAffinity, RecommendationBuild

logger = logging.getLogger(__name__)

ORDER_CHUNK = 250_000  # orders read per statement while collecting purchases
POPULAR_KEPT = 100  # best sellers kept per prefecture


def refresh_insights_facts(*, full: bool = False, today: date | None = None) -> FactsState:
    """Recompute the daily facts up to yesterday: everything (`full`, or the first time), else the
    last INSIGHTS_FACT_LOOKBACK_DAYS days and any day missed since the last refresh. One transaction:
    readers see the old facts until it commits. Idempotent."""
    today = today or timezone.localdate()
    through = today - timedelta(days=1)
    started = time.monotonic()
    with analytics(work_mem="256MB"):
        state = FactsState.objects.select_for_update().get_or_create(key="facts")[0]
        first = None
        if not full and state.built_through is not None:
            lookback = setting("INSIGHTS_FACT_LOOKBACK_DAYS")
            first = min(state.built_through + timedelta(days=1), through - timedelta(days=lookback - 1))
        span = Span.of_days(first, through)
        rows = {}
        with connection.cursor() as cursor:
            for model, columns, selects in FACTS:
                if first is None:
                    model.objects.all().delete()
                else:
                    model.objects.filter(day__gte=first).delete()
                written = 0
                for select in selects:
                    sql, params = select(connection, span)
                    # In day order: a period's rows then sit together on disk, and a KPI query reads a few
                    # thousand pages instead of one page per row.
                    cursor.execute(
                        f"INSERT INTO {table(model)} ({', '.join(columns)}) "  # noqa: S608
                        f"SELECT * FROM ({sql}) AS fresh ORDER BY day",
                        params,
                    )
                    written += max(cursor.rowcount, 0)
                rows[model._meta.model_name] = written
        now = timezone.now()
        state.built_through = through
        state.refreshed_at = now
        if first is None:
            state.full_refreshed_at = now
        state.seconds = round(time.monotonic() - started, 3)
        state.rows = rows
        state.save()
    _vacuum_facts()
    logger.info("insights facts refreshed through=%s full=%s rows=%s seconds=%.1f", through, first is None, rows,
                state.seconds)  # fmt: skip
    return state


def facts_state() -> FactsState | None:
    return FactsState.objects.filter(key="facts").first()


def _vacuum_facts() -> None:
    """Each refresh deletes and rewrites the trailing days: without a vacuum their dead rows stay in the
    indexes and a four-week query visits 17 times the pages (69,000 instead of 4,000 at 5M orders).
    PostgreSQL only, and only outside a transaction (VACUUM cannot run inside one)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(table(model) for model, _columns, _selects in FACTS))


# --- Recommendations -------------------------------------------------------------------------------
def _purchases(progress: Callable[[int], None] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (customer, product) pairs of every order with a customer, in any channel: read in
    ranges of order ids (two range scans joined), deduplicated as they arrive. Returns the customer
    ids, the product ids, and the product id of each matrix column."""
    product_ids = np.array(sorted(Product.objects.values_list("pk", flat=True)), dtype=np.int64)
    width = max(len(product_ids), 1)
    bounds = Order.objects.aggregate(low=Min("pk"), high=Max("pk"))
    keys = []
    if bounds["low"] is not None:
        sql = (
            f"SELECT o.customer_id, l.product_id FROM {table(OrderLine)} l "  # noqa: S608
            f"JOIN {table(Order)} o ON o.id = l.order_id "
            "WHERE l.order_id >= %s AND l.order_id < %s AND o.id >= %s AND o.id < %s AND o.customer_id IS NOT NULL"
        )
        with connection.cursor() as cursor:
            for low in range(bounds["low"], bounds["high"] + 1, ORDER_CHUNK):
                high = low + ORDER_CHUNK
                cursor.execute(sql, [low, high, low, high])
                rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
                if len(rows):
                    columns = np.searchsorted(product_ids, rows[:, 1])
                    keys.append(np.unique(rows[:, 0] * width + columns))
                if progress:
                    progress(min(high, bounds["high"] + 1) - low)
    merged = np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
    return merged // width, merged % width, product_ids


def affinity_rows(customers: np.ndarray, columns: np.ndarray, product_ids: np.ndarray) -> list[tuple]:
    """(product, other, score, co-buyers) for the strongest neighbours of each product.

    X is the customers × products matrix of who bought what. Each customer counts with weight
    1 / log2(1 + products they bought), so that a customer who bought half the catalogue does not
    make everything look related. C = Xᵀ·W·X; the score of (a, b) is the cosine C[a,b] / √(C[a,a]·C[b,b]),
    kept when at least INSIGHTS_MIN_COBUYERS customers bought both."""
    if not len(customers):
        return []
    _ids, rows = np.unique(customers, return_inverse=True)
    width = len(product_ids)
    x = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(_ids), width))
    sizes = np.diff(x.indptr).astype(np.float64)
    weights = sparse.diags(1.0 / np.log2(1.0 + sizes))
    co_buyers = (x.T @ x).tocsr()
    weighted = (x.T @ (weights @ x)).tocsr()
    norms = np.sqrt(weighted.diagonal())
    norms[norms == 0] = 1.0
    scores = sparse.diags(1.0 / norms) @ weighted @ sparse.diags(1.0 / norms)
    scores = scores.multiply(co_buyers >= setting("INSIGHTS_MIN_COBUYERS")).tocsr()
    scores.setdiag(0)
    scores.eliminate_zeros()
    keep = setting("INSIGHTS_AFFINITY_NEIGHBOURS")
    out = []
    for a in range(width):
        start, end = scores.indptr[a], scores.indptr[a + 1]
        if start == end:
            continue
        others, values = scores.indices[start:end], scores.data[start:end]
        best = np.lexsort((others, -values))[:keep]
        for i in best:
            b = int(others[i])
            out.append((int(product_ids[a]), int(product_ids[b]), float(values[i]), int(co_buyers[a, b])))
    return out


def _rebuild_popular(*, since) -> int:
    """Best sellers of the recent days by customers of each prefecture, and everywhere (""): one
    INSERT … SELECT with a window function."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table(PopularProduct)}")  # noqa: S608
        sql = f"""
            INSERT INTO {table(PopularProduct)} (prefecture, product_id, buyers, rank)
            SELECT prefecture, product_id, buyers, rnk FROM (
                SELECT prefecture, product_id, buyers,
                       ROW_NUMBER() OVER (PARTITION BY prefecture ORDER BY buyers DESC, product_id) AS rnk
                FROM (
                    SELECT c.prefecture AS prefecture, l.product_id AS product_id,
                           COUNT(DISTINCT o.customer_id) AS buyers
                    FROM {table(Order)} o
                    JOIN {table(OrderLine)} l ON l.order_id = o.id
                    JOIN {table(Customer)} c ON c.id = o.customer_id
                    WHERE o.ordered_at >= %s AND c.prefecture <> '' AND o.status <> %s
                    GROUP BY c.prefecture, l.product_id
                    UNION ALL
                    SELECT '' AS prefecture, l.product_id AS product_id, COUNT(DISTINCT o.customer_id) AS buyers
                    FROM {table(Order)} o JOIN {table(OrderLine)} l ON l.order_id = o.id
                    WHERE o.ordered_at >= %s AND o.customer_id IS NOT NULL AND o.status <> %s
                    GROUP BY l.product_id
                ) AS counted
            ) AS ranked WHERE rnk <= %s
        """  # noqa: S608
        returned = Order.Status.RETURNED
        since = connection.ops.adapt_datetimefield_value(since)
        cursor.execute(sql, [since, returned, since, returned, POPULAR_KEPT])
        return max(cursor.rowcount, 0)


def build_recommendations(*, progress: Callable[[int], None] | None = None) -> RecommendationBuild:
    """Rebuild the bought-together scores from every order with a customer (all channels) and the
    best sellers per prefecture. Reads first, then swaps the tables in one short transaction, so the
    API keeps answering from the previous build meanwhile."""
    started, clock = timezone.now(), time.monotonic()
    customers, columns, product_ids = _purchases(progress)
    rows = affinity_rows(customers, columns, product_ids)
    since = timezone.now() - timedelta(days=setting("INSIGHTS_POPULAR_DAYS"))
    with transaction.atomic():
        ProductAffinity.objects.all().delete()
        write_rows(ProductAffinity, ("product_id", "other_id", "score", "customers"), rows)
        popular = _rebuild_popular(since=since)
        build = RecommendationBuild.objects.create(
            started_at=started, finished_at=timezone.now(), customers=len(np.unique(customers)),
            purchases=len(customers), pairs=len(rows), seconds=round(time.monotonic() - clock, 3),
        )  # fmt: skip
    logger.info("recommendations built purchases=%d pairs=%d popular=%d seconds=%.1f", len(customers), len(rows),
                popular, build.seconds)  # fmt: skip
    return build


def order_count_estimate() -> int:
    """Orders to read (for a progress bar's total): the id range the build walks."""
    bounds = Order.objects.aggregate(low=Min("pk"), high=Max("pk"))
    return 0 if bounds["low"] is None else bounds["high"] - bounds["low"] + 1
