"""Stock side of crm's orders: receivers of order_recorded / order_returned / customers_merged call these."""

import logging
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm.models import Order, OrderReturn, SalesChannel, Store
from crm.services import set_order_fulfillment

from ..exceptions import OutOfStock
from ..models import Discrepancy, Reservation, StockLevel, StockMovement
from .pickups import hold_pickup_order, take_held_units
from .stock import Move, locked_levels, record_movements

logger = logging.getLogger(__name__)

# Orders from these channels ship from a location and must find the stock, or are refused.
ONLINE_CHANNELS = (SalesChannel.EC, SalesChannel.APP)
# How many ship-from-store candidates to try when stock changes under us between read and lock.
SHIP_FROM_STORE_ATTEMPTS = getattr(settings, "INVENTORY_SHIP_FROM_STORE_ATTEMPTS", 5)


def allocate_order(*, order: Order) -> Store:
    """Move stock for a recorded order, inside the order's transaction; returns where it shipped from.

    EC/app orders need every line available at the fulfilling location (normally the EC warehouse);
    when the warehouse lacks stock the order ships from a store that has all lines (the customer's
    prefecture first, then the most stock), or is refused with OutOfStock and nothing is written.
    Store sales (and phone/catalog orders) are always recorded: the goods were physically there, so
    what the counts do not cover becomes a discrepancy for staff instead of negative stock.
    """
    wanted: dict[int, int] = defaultdict(int)
    first_line: dict[int, int] = {}
    for i, line in enumerate(order.lines.order_by("line_number")):
        wanted[line.product_id] += line.quantity
        first_line.setdefault(line.product_id, i)
    if order.fulfilment_type == Order.Fulfilment.PICKUP:
        return hold_pickup_order(order=order, wanted=wanted, first_line=first_line)
    if order.channel in ONLINE_CHANNELS:
        return _allocate_online(order, wanted, first_line)
    for product_id, units in take_held_units(order=order).items():
        wanted[product_id] -= units  # handed over from a hold or a pickup order: not taken again
    _record_counter_sale(order, wanted)
    return order.store


def _sale_moves(order: Order, store_id: int, quantities: dict[int, int]) -> list[Move]:
    return [
        Move(store_id, product_id, StockMovement.Kind.SALE, on_hand=-qty, reference=order.public_id,
             key=f"sale:{order.public_id}:{product_id}")
        for product_id, qty in sorted(quantities.items())
        if qty
    ]  # fmt: skip


def _record_counter_sale(order: Order, wanted: dict[int, int]) -> None:
    levels = locked_levels((order.store_id, p) for p in wanted)
    taken, shortfalls = {}, []
    for product_id, qty in wanted.items():
        level = levels[(order.store_id, product_id)]
        # Reserved units stay reserved for their customers: a sale beyond what is available is a
        # count problem (or a reserved item sold) for staff to look at, not negative stock.
        taken[product_id] = min(qty, max(level.available, 0))
        if qty > taken[product_id]:
            shortfalls.append(
                Discrepancy(
                    store_id=order.store_id, product_id=product_id, source=Discrepancy.Source.SALE,
                    quantity=qty - taken[product_id], reference=order.public_id,
                )
            )  # fmt: skip
    record_movements(levels, _sale_moves(order, order.store_id, taken))
    if shortfalls:
        Discrepancy.objects.bulk_create(shortfalls)
        logger.info("sale beyond counted stock order_id=%s lines=%d", order.public_id, len(shortfalls))


def _covers(levels: dict, store_id: int, wanted: dict[int, int]) -> bool:
    return all((lvl := levels.get((store_id, p))) is not None and lvl.available >= qty for p, qty in wanted.items())


def _allocate_online(order: Order, wanted: dict[int, int], first_line: dict[int, int]) -> Store:
    home = order.store
    if _unlocked_cover(home.pk, wanted) or home.kind != Store.Kind.WAREHOUSE:
        levels = locked_levels((home.pk, p) for p in wanted)
        if _covers(levels, home.pk, wanted):
            record_movements(levels, _sale_moves(order, home.pk, wanted))
            return home
        if home.kind != Store.Kind.WAREHOUSE:
            raise _out_of_stock(levels, home.pk, wanted, first_line)
    prefecture = order.customer.prefecture if order.customer_id else ""
    for store in ship_from_store_candidates(wanted=wanted, prefecture=prefecture, exclude=home.pk):
        levels = locked_levels((store.pk, p) for p in wanted)
        if _covers(levels, store.pk, wanted):
            record_movements(levels, _sale_moves(order, store.pk, wanted))
            set_order_fulfillment(order=order, store=store)
            logger.info("ship from store order_id=%s store=%s", order.public_id, store.code)
            return store
    home_levels = {
        (lvl.store_id, lvl.product_id): lvl for lvl in StockLevel.objects.filter(store=home, product_id__in=wanted)
    }
    raise _out_of_stock(home_levels, home.pk, wanted, first_line)


def _unlocked_cover(store_id: int, wanted: dict[int, int]) -> bool:
    rows = StockLevel.objects.filter(store_id=store_id, product_id__in=wanted).values_list(
        "product_id", F("on_hand") - F("reserved")
    )
    available = dict(rows)
    return all(available.get(p, 0) >= qty for p, qty in wanted.items())


def ship_from_store_candidates(*, wanted: dict[int, int], prefecture: str = "", exclude: int | None = None):
    """Active stores that have every wanted product available: the customer's prefecture first, then
    the most units available over the order's products, then store code."""
    rows = (
        StockLevel.objects.filter(
            product_id__in=wanted, store__kind=Store.Kind.STORE, store__active=True, on_hand__gt=F("reserved")
        )
        .exclude(store_id=exclude)
        .values_list("store_id", "product_id", F("on_hand") - F("reserved"))
    )
    by_store: dict[int, dict[int, int]] = defaultdict(dict)
    for store_id, product_id, available in rows:
        by_store[store_id][product_id] = available
    eligible = {
        store_id: sum(stock.values())
        for store_id, stock in by_store.items()
        if all(stock.get(p, 0) >= qty for p, qty in wanted.items())
    }
    stores = Store.objects.in_bulk(eligible)
    ranked = sorted(
        stores.values(), key=lambda s: (s.prefecture != prefecture or not prefecture, -eligible[s.pk], s.code)
    )
    return ranked[:SHIP_FROM_STORE_ATTEMPTS]


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


def restock_return(*, order: Order, order_return: OrderReturn) -> None:
    """Returned units go back to the location that shipped them."""
    store_id = order.fulfilled_from_id or order.store_id
    quantities: dict[int, int] = defaultdict(int)
    for line in order_return.lines.select_related("order_line"):
        quantities[line.order_line.product_id] += line.quantity
    levels = locked_levels((store_id, p) for p in quantities)
    record_movements(
        levels,
        [
            Move(store_id, product_id, StockMovement.Kind.RETURN, on_hand=qty, reference=order_return.public_id,
                 key=f"return:{order_return.public_id}:{product_id}")
            for product_id, qty in sorted(quantities.items())
        ],
    )  # fmt: skip


def move_reservations(*, winner, loser, merge) -> int:
    """A merge moves the loser's reservations (any status) to the survivor; counted on the merge record."""
    with transaction.atomic():
        moved = Reservation.objects.filter(customer=loser).update(customer=winner)
    merge.moved["reservations"] = moved
    return moved
