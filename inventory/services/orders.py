"""Stock side of crm's orders: the `inventory.stock` step of the order pipeline and of its returns
(crm/registry.py), and the move of reservations when customers merge.

Locks: the rows of the shipping location in primary-key order, one statement. When the EC warehouse
falls short, every candidate row of the stores in ONE pk-ordered statement, and the store is chosen
in memory (Saleor's allocate_stocks does the same). Every other stock path locks rows of a single
location, so no path holds a store's row while it waits for a warehouse's: no circle."""

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm.models import SalesChannel, Store
from crm.registry import OrderDraft, ReturnDraft

from ..exceptions import OutOfStock
from ..models import Discrepancy, Reservation, StockLevel, StockMovement
from .stock import Move, Pair, locked_levels, record_movements

logger = logging.getLogger(__name__)
STEP = "inventory.stock"

# Orders from these channels ship from a location and must find the stock, or are refused.
ONLINE_CHANNELS = (SalesChannel.EC, SalesChannel.APP)


@dataclass
class StockPlan:
    levels: dict[Pair, StockLevel]
    store_id: int
    taken: dict[int, int]  # product id -> units leaving store_id
    shortfalls: list[Discrepancy] = field(default_factory=list)


def prepare_order_stock(draft: OrderDraft) -> None:
    """Lock and choose the stock the order takes. EC/app orders need every line available at the
    shipping location (normally the EC warehouse); when the warehouse lacks stock the order ships from
    a store that has all lines (the customer's prefecture first, then the most stock, then the code)
    and `draft.fulfilled_from` says so, or is refused with OutOfStock. Store sales (and phone/catalog
    orders) are always recorded: the goods were physically there, so what the counts do not cover
    becomes a discrepancy for staff instead of negative stock."""
    wanted: dict[int, int] = defaultdict(int)
    first_line: dict[int, int] = {}
    for i, line in enumerate(draft.lines):
        wanted[line.product.pk] += line.quantity
        first_line.setdefault(line.product.pk, i)
    if draft.channel in ONLINE_CHANNELS:
        plan = _plan_online(draft, wanted, first_line)
    else:
        plan = _plan_counter_sale(draft, wanted)
    draft.plans[STEP] = plan


def write_order_stock(draft: OrderDraft) -> list[StockMovement]:
    plan: StockPlan = draft.plans[STEP]
    moves = _sale_moves(draft.public_id, plan.store_id, plan.taken)
    created = record_movements(plan.levels, moves, new_keys=True)
    if plan.shortfalls:
        Discrepancy.objects.bulk_create(plan.shortfalls)
        logger.info("sale beyond counted stock order_id=%s lines=%d", draft.public_id, len(plan.shortfalls))
    return created


def _sale_moves(reference: str, store_id: int, quantities: dict[int, int]) -> list[Move]:
    return [
        Move(store_id, product_id, StockMovement.Kind.SALE, on_hand=-qty, reference=reference,
             key=f"sale:{reference}:{product_id}")
        for product_id, qty in sorted(quantities.items())
        if qty
    ]  # fmt: skip


def _lock_at(store_id: int, product_ids) -> dict[Pair, StockLevel]:
    """The existing levels of these products at one location, locked in pk order (one statement)."""
    rows = (
        StockLevel.objects.filter(store_id=store_id, product_id__in=list(product_ids))
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return {(lvl.store_id, lvl.product_id): lvl for lvl in rows}


def _plan_counter_sale(draft: OrderDraft, wanted: dict[int, int]) -> StockPlan:
    store_id = draft.store.pk
    levels = _lock_at(store_id, wanted)
    if len(levels) < len(wanted):  # first sale of a product here: create its level at zero
        levels = locked_levels((store_id, p) for p in wanted)
    taken, shortfalls = {}, []
    for product_id, qty in wanted.items():
        level = levels[(store_id, product_id)]
        # Reserved units stay reserved for their customers: a sale beyond what is available is a
        # count problem (or a reserved item sold) for staff to look at, not negative stock.
        taken[product_id] = min(qty, max(level.available, 0))
        if qty > taken[product_id]:
            shortfalls.append(
                Discrepancy(
                    store_id=store_id, product_id=product_id, source=Discrepancy.Source.SALE,
                    quantity=qty - taken[product_id], reference=draft.public_id,
                )
            )  # fmt: skip
    return StockPlan(levels, store_id, taken, shortfalls)


def _covers(levels: dict, store_id: int, wanted: dict[int, int]) -> bool:
    return all((lvl := levels.get((store_id, p))) is not None and lvl.available >= qty for p, qty in wanted.items())


def _plan_online(draft: OrderDraft, wanted: dict[int, int], first_line: dict[int, int]) -> StockPlan:
    home = draft.store
    levels = _lock_at(home.pk, wanted)
    if _covers(levels, home.pk, wanted):
        return StockPlan(levels, home.pk, dict(wanted))
    if home.kind != Store.Kind.WAREHOUSE:
        raise _out_of_stock(levels, home.pk, wanted, first_line)
    prefecture = draft.customer.prefecture if draft.customer is not None else ""
    candidates = lock_ship_from_store_candidates(wanted)
    store = choose_ship_from_store(candidates, wanted=wanted, prefecture=prefecture)
    if store is None:
        raise _out_of_stock(levels, home.pk, wanted, first_line)
    draft.fulfilled_from = store
    logger.info("ship from store order_id=%s store=%s", draft.public_id, store.code)
    chosen = {pair: lvl for pair, lvl in candidates.items() if pair[0] == store.pk}
    return StockPlan(chosen, store.pk, dict(wanted))


def lock_ship_from_store_candidates(wanted: dict[int, int]) -> dict[Pair, StockLevel]:
    """Every row of an active store that has units of a wanted product available, locked in ONE
    statement in primary-key order, with its store."""
    rows = (
        StockLevel.objects.filter(
            product_id__in=list(wanted), store__kind=Store.Kind.STORE, store__active=True, on_hand__gt=F("reserved")
        )
        .select_related("store")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return {(lvl.store_id, lvl.product_id): lvl for lvl in rows}


def choose_ship_from_store(levels: dict[Pair, StockLevel], *, wanted: dict[int, int], prefecture: str = ""):
    """Of the stores whose locked levels cover every wanted product: the customer's prefecture first,
    then the most units available over the order's products, then store code. None if none covers."""
    by_store: dict[int, dict[int, StockLevel]] = defaultdict(dict)
    for (store_id, product_id), level in levels.items():
        by_store[store_id][product_id] = level
    eligible = [
        (stock[next(iter(stock))].store, sum(lvl.available for lvl in stock.values()))
        for stock in by_store.values()
        if all((lvl := stock.get(p)) is not None and lvl.available >= qty for p, qty in wanted.items())
    ]
    if not eligible:
        return None
    ranked = sorted(eligible, key=lambda e: (e[0].prefecture != prefecture or not prefecture, -e[1], e[0].code))
    return ranked[0][0]


def _out_of_stock(levels, store_id: int, wanted: dict[int, int], first_line: dict[int, int]) -> OutOfStock:
    errors = {}
    for product_id, qty in wanted.items():
        level = levels.get((store_id, product_id))
        available = level.available if level else 0
        if available < qty:
            errors[f"lines.{first_line[product_id]}.quantity"] = [
                _("Only %(available)d available, %(wanted)d ordered.") % {"available": available, "wanted": qty}
            ]
    return OutOfStock(_("Not enough stock to fill this order from any location."), errors=errors)


def restock_return(draft: ReturnDraft) -> None:
    """The `inventory.stock` step of a return: returned units go back to the location that shipped them."""
    order = draft.order
    store_id = order.fulfilled_from_id or order.store_id
    quantities: dict[int, int] = defaultdict(int)
    for line, quantity in draft.lines:
        quantities[line.product_id] += quantity
    levels = locked_levels((store_id, p) for p in quantities)
    reference = draft.order_return.public_id
    record_movements(
        levels,
        [
            Move(store_id, product_id, StockMovement.Kind.RETURN, on_hand=qty, reference=reference,
                 key=f"return:{reference}:{product_id}")
            for product_id, qty in sorted(quantities.items())
        ],
        new_keys=True,
    )  # fmt: skip


def move_reservations(*, winner, loser, merge) -> int:
    """A merge moves the loser's reservations (any status) to the survivor; counted on the merge record."""
    with transaction.atomic():
        moved = Reservation.objects.filter(customer=loser).update(customer=winner)
    merge.moved["reservations"] = moved
    return moved
