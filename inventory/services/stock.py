"""The ledger primitive every inventory write goes through: make sure the levels exist, lock them in
primary-key order, append movements and move the cached balances with F() in the same transaction."""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Product, Store

from ..models import Discrepancy, StockLevel, StockMovement

Pair = tuple[int, int]  # (store_id, product_id)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Move:
    store_id: int
    product_id: int
    kind: str
    on_hand: int = 0
    reserved: int = 0
    reference: str = ""
    key: str | None = None
    note: str = ""


def ensure_stock_levels(pairs: Iterable[Pair]) -> dict[Pair, int]:
    """Level ids for these (store, product) pairs, creating missing levels at zero. Creation relies on
    the unique (store, product) constraint, so two transactions creating the same level both end up
    with the one row; pairs are inserted in sorted order so that concurrent inserts never wait in a circle."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    found = _level_ids(wanted)
    missing = [pair for pair in wanted if pair not in found]
    if missing:
        StockLevel.objects.bulk_create(
            [StockLevel(store_id=s, product_id=p) for s, p in missing], ignore_conflicts=True, batch_size=2000
        )
        found.update(_level_ids(missing))
    return found


def _level_ids(pairs: list[Pair]) -> dict[Pair, int]:
    stores = {s for s, _ in pairs}
    products = {p for _, p in pairs}
    wanted = set(pairs)
    found = {}
    for chunk in _chunks(sorted(products), 5000):
        rows = StockLevel.objects.filter(store_id__in=stores, product_id__in=chunk).values_list(
            "store_id", "product_id", "pk"
        )
        found.update({(s, p): pk for s, p, pk in rows if (s, p) in wanted})
    return found


def lock_stock_levels(ids: Iterable[int]) -> list[StockLevel]:
    """The one way to lock stock levels: in primary-key order, so two writers never wait on each
    other in a circle. A no-op lock on SQLite, which serialises writers anyway."""
    ids = sorted(set(ids))
    locked = []
    for chunk in _chunks(ids, 5000):
        locked += list(StockLevel.objects.filter(pk__in=chunk).order_by("pk").select_for_update(of=("self",)))
    return locked


def locked_levels(pairs: Iterable[Pair]) -> dict[Pair, StockLevel]:
    """Ensure and lock the levels of these pairs; call inside a transaction."""
    ids = ensure_stock_levels(pairs)
    return {(lvl.store_id, lvl.product_id): lvl for lvl in lock_stock_levels(ids.values())}


def record_movements(
    levels: dict[Pair, StockLevel], moves: list[Move], *, actor=None, new_keys: bool = False
) -> list[StockMovement]:
    """Append `moves` to the ledger and apply them to the (locked) `levels`. A move whose
    idempotency key is already in the ledger was applied before and is skipped. `new_keys`: the keys
    name an object created in this transaction (an order, a return), so none can be in the ledger
    yet and nothing is looked up (the unique constraint still guards them)."""
    keys = [m.key for m in moves if m.key]
    seen = set()
    if keys and not new_keys:
        seen = set(StockMovement.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
    moves = [m for m in moves if (m.key is None or m.key not in seen) and (m.on_hand or m.reserved)]
    if not moves:
        return []
    totals: dict[Pair, list[int]] = defaultdict(lambda: [0, 0])
    for m in moves:
        totals[(m.store_id, m.product_id)][0] += m.on_hand
        totals[(m.store_id, m.product_id)][1] += m.reserved
    created = StockMovement.objects.bulk_create(
        StockMovement(
            store_id=m.store_id, product_id=m.product_id, kind=m.kind, on_hand_delta=m.on_hand,
            reserved_delta=m.reserved, reference=m.reference, idempotency_key=m.key, note=m.note, actor=actor,
        )
        for m in moves
    )  # fmt: skip
    now = timezone.now()
    for pair, (on_hand, reserved) in totals.items():
        level = levels[pair]
        StockLevel.objects.filter(pk=level.pk).update(
            on_hand=F("on_hand") + on_hand, reserved=F("reserved") + reserved, updated_at=now
        )
        level.on_hand += on_hand
        level.reserved += reserved
    return created


def _validate_quantity(quantity, field: str = "quantity") -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError({field: [_("Must be a positive whole number.")]})


def receive_stock(
    *,
    store: Store,
    product: Product,
    quantity: int,
    reference: str = "",
    idempotency_key: str | None = None,
    actor=None,
) -> StockLevel:
    """Goods arrived at a location (a delivery, an opening balance)."""  # fmt: skip
    _validate_quantity(quantity)
    with transaction.atomic():
        pair = (store.pk, product.pk)
        levels = locked_levels([pair])
        record_movements(
            levels,
            [Move(store.pk, product.pk, StockMovement.Kind.RECEIPT, on_hand=quantity, reference=reference,
                  key=idempotency_key)],
            actor=actor,
        )  # fmt: skip
    return levels[pair]


def receive_stock_lines(*, store: Store, quantities: dict[Product, int], reference: str, actor=None) -> int:
    """A delivery of many products to one location in one transaction (an opening balance, a
    container). Each line is keyed by `reference`, so running it again receives nothing twice."""
    for quantity in quantities.values():
        _validate_quantity(quantity)
    with transaction.atomic():
        levels = locked_levels((store.pk, product.pk) for product in quantities)
        moves = [
            Move(store.pk, product.pk, StockMovement.Kind.RECEIPT, on_hand=quantity, reference=reference,
                 key=f"{reference}:{store.pk}:{product.pk}")
            for product, quantity in quantities.items()
        ]  # fmt: skip
        return len(record_movements(levels, moves, actor=actor))


def adjust_stock(*, store: Store, product: Product, delta: int, reason: str, actor=None) -> StockLevel:
    """A signed manual correction (damaged goods, a found box), with the reason on the ledger row."""
    errors = {}
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        errors["delta"] = [_("Give a non-zero whole number.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the stock changes.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        pair = (store.pk, product.pk)
        levels = locked_levels([pair])
        level = levels[pair]
        if level.on_hand + delta < level.reserved:
            message = _("On hand cannot go below the %(reserved)d reserved units.") % {"reserved": level.reserved}
            raise ValidationError({"delta": [message]})
        record_movements(
            levels,
            [Move(store.pk, product.pk, StockMovement.Kind.ADJUSTMENT, on_hand=delta, note=reason.strip()[:255])],
            actor=actor,
        )
    return level


BELOW_RESERVED = _(
    "%(reserved)d units are reserved for customers: cancel or move those reservations, then count again."
)


def resolve_discrepancy(
    *, discrepancy: Discrepancy, actor=None, note: str = "", counted: int | None = None
) -> Discrepancy:
    """Staff recounted the item at the store: on hand becomes what they counted (a count correction
    on the ledger, referencing the discrepancy) and the discrepancy is resolved with the count kept.
    A count below what customers hold is refused: those reservations must be dealt with first.
    Without `counted` (the admin's bulk action) it is only marked resolved. Resolving twice is a no-op."""
    if counted is not None and (isinstance(counted, bool) or not isinstance(counted, int) or counted < 0):
        raise ValidationError({"counted": [_("Give the number of units you counted (0 or more).")]})
    note = (note or "").strip()
    if len(note) > 255:
        raise ValidationError({"note": [_("At most %(n)d characters.") % {"n": 255}]})
    with transaction.atomic():
        discrepancy = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if discrepancy.status == Discrepancy.Status.RESOLVED:
            return discrepancy
        fields = ["status", "resolved_by", "resolved_at", "note"]
        if counted is not None:
            pair = (discrepancy.store_id, discrepancy.product_id)
            levels = locked_levels([pair])
            level = levels[pair]
            if counted < level.reserved:
                raise ValidationError({"counted": [BELOW_RESERVED % {"reserved": level.reserved}]})
            discrepancy.on_hand_before = level.on_hand
            discrepancy.counted = counted
            fields += ["on_hand_before", "counted"]
            record_movements(
                levels,
                [Move(*pair, StockMovement.Kind.COUNT_CORRECTION, on_hand=counted - level.on_hand,
                      reference=discrepancy.public_id, key=f"{discrepancy.public_id}:recount", note=note[:255])],
                actor=actor,
            )  # fmt: skip
        discrepancy.status = Discrepancy.Status.RESOLVED
        discrepancy.resolved_by = actor
        discrepancy.resolved_at = timezone.now()
        discrepancy.note = note
        discrepancy.save(update_fields=fields)
    logger.info("discrepancy resolved discrepancy_id=%s recounted=%s", discrepancy.public_id, counted is not None)
    return discrepancy


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
