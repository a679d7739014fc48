"""Stock counts from a POS or WMS: up to 10,000 rows for one location, applied set-based.

Products are looked up in one query, missing levels created in bulk, the levels locked in pk order,
the differences appended as `count_correction` movements with one bulk insert, and the levels set
with one UPDATE … FROM unnest(…) on PostgreSQL (one executemany on SQLite)."""

import hashlib
import json
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Product, Store

from ..exceptions import SyncBatchConflict
from ..models import Discrepancy, StockLevel, StockMovement, StockSyncBatch
from .stock import ensure_stock_levels, lock_stock_levels

logger = logging.getLogger(__name__)

MAX_ROWS = 10_000
MAX_ON_HAND = 10_000_000


def _fingerprint(store: Store, counts) -> str:
    payload = json.dumps({"store": store.code, "counts": counts}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_rows(counts: list) -> tuple[dict[str, tuple[int, int]], list[dict]]:
    """Valid rows as {sku: (row, on_hand)} and the bad rows as errors [{row, sku, code}]."""
    valid, errors = {}, []
    for row, item in enumerate(counts):
        if not isinstance(item, dict):
            errors.append({"row": row, "sku": None, "code": "invalid_row"})
            continue
        sku, on_hand = item.get("sku"), item.get("on_hand")
        if not isinstance(sku, str) or not 1 <= len(sku) <= 64 or set(item) - {"sku", "on_hand"}:
            errors.append({"row": row, "sku": sku if isinstance(sku, str) else None, "code": "invalid_row"})
        elif isinstance(on_hand, bool) or not isinstance(on_hand, int) or not 0 <= on_hand <= MAX_ON_HAND:
            errors.append({"row": row, "sku": sku, "code": "invalid_on_hand"})
        elif sku in valid:
            errors.append({"row": row, "sku": sku, "code": "duplicate_sku"})
        else:
            valid[sku] = (row, on_hand)
    return valid, errors


def sync_stock_counts(
    *, store: Store, counts: list, batch_key: str | None = None, actor=None
) -> tuple[StockSyncBatch, bool]:
    """Set on-hand counts at `store`. Valid rows are applied, bad rows reported per row with a code
    (invalid_row, invalid_on_hand, duplicate_sku, unknown_sku, below_reserved). A batch key seen before
    for this store answers the first result (created=False); with other counts, SyncBatchConflict."""
    if not isinstance(counts, list):
        raise ValidationError({"counts": [_("Send a list of {sku, on_hand} rows.")]})
    if len(counts) > MAX_ROWS:
        raise ValidationError({"counts": [_("At most %(max)d rows per call.") % {"max": MAX_ROWS}]})
    fingerprint = _fingerprint(store, counts)
    if batch_key:
        existing = StockSyncBatch.objects.filter(store=store, key=batch_key).first()
        if existing is not None:
            return _replay(existing, fingerprint), False
    valid, errors = _check_rows(counts)
    try:
        with transaction.atomic():
            # Claim the batch key first: a concurrent duplicate waits here on the unique index.
            batch = StockSyncBatch.objects.create(
                store=store, key=batch_key or "", request_hash=fingerprint, rows=len(counts), applied=0, changed=0,
                actor=actor,
            )  # fmt: skip
            applied, changed = _apply_counts(store, batch, valid, errors, actor)
            errors.sort(key=lambda e: e["row"])
            batch.applied, batch.changed, batch.errors = applied, changed, errors
            batch.save(update_fields=["applied", "changed", "errors"])
    except IntegrityError:
        existing = StockSyncBatch.objects.filter(store=store, key=batch_key).first() if batch_key else None
        if existing is None:
            raise
        return _replay(existing, fingerprint), False
    logger.info(
        "stock sync batch_id=%s store=%s rows=%d applied=%d changed=%d",
        batch.public_id, store.code, len(counts), applied, changed,
    )  # fmt: skip
    return batch, True


def _replay(batch: StockSyncBatch, fingerprint: str) -> StockSyncBatch:
    if batch.request_hash != fingerprint:
        raise SyncBatchConflict()
    return batch


def _apply_counts(store, batch, valid, errors, actor) -> tuple[int, int]:
    products = dict(Product.objects.filter(sku__in=list(valid)).values_list("sku", "pk"))
    for sku, (row, _on_hand) in valid.items():
        if sku not in products:
            errors.append({"row": row, "sku": sku, "code": "unknown_sku"})
    wanted = {products[sku]: (sku, row, on_hand) for sku, (row, on_hand) in valid.items() if sku in products}
    level_ids = ensure_stock_levels((store.pk, product_id) for product_id in wanted)
    levels = lock_stock_levels(level_ids.values())
    movements, updates, discrepancies, applied = [], [], [], 0
    for level in levels:
        sku, row, counted = wanted[level.product_id]
        if counted < level.reserved:
            # Fewer units on the shelf than customers were promised: staff must look before stock moves.
            errors.append({"row": row, "sku": sku, "code": "below_reserved"})
            discrepancies.append(
                Discrepancy(
                    store=store, product_id=level.product_id, source=Discrepancy.Source.COUNT,
                    quantity=level.reserved - counted, reference=batch.public_id,
                )
            )  # fmt: skip
            continue
        applied += 1
        if counted != level.on_hand:
            movements.append(
                StockMovement(
                    store=store, product_id=level.product_id, kind=StockMovement.Kind.COUNT_CORRECTION,
                    on_hand_delta=counted - level.on_hand, reference=batch.public_id, actor=actor,
                )
            )  # fmt: skip
            updates.append((level.pk, counted))
    StockMovement.objects.bulk_create(movements, batch_size=5000)
    Discrepancy.objects.bulk_create(discrepancies)
    _set_on_hand(updates)
    return applied, len(updates)


def _set_on_hand(updates: list[tuple[int, int]]) -> None:
    if not updates:
        return
    # The table name comes from the model; every value is a parameter.
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"UPDATE {table} AS l SET on_hand = v.on_hand, updated_at = %s FROM unnest(%s::bigint[], %s::integer[]) AS v(id, on_hand) WHERE l.id = v.id"  # noqa: S608, E501
            cursor.execute(sql, [now, [pk for pk, _ in updates], [n for _, n in updates]])
        else:
            sql = f"UPDATE {table} SET on_hand = %s, updated_at = %s WHERE id = %s"  # noqa: S608
            cursor.executemany(sql, [(n, now, pk) for pk, n in updates])
