"""Stock side of click-and-collect orders and of held units sold at the counter.

A pickup order holds its units at the pickup store as reservations (one per product, linked to the
order) from the moment it is recorded; collecting it (the API, the staff queue, or a POS sale line
carrying its code) takes them out once; cancelling it releases them. A store sale line naming a
hold takes the held units instead of new stock. Either way stock leaves once.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Order, Store

from ..exceptions import OutOfStock
from ..models import Reservation, StockLevel, StockMovement
from .reservations import _close, _insert_with_unique_code, expiry_for
from .stock import Move, locked_levels, record_movements

logger = logging.getLogger(__name__)


@dataclass
class PickupPlan:
    levels: dict
    store_id: int
    wanted: dict[int, int]  # product id -> units held at the pickup store


def plan_pickup(draft, wanted: dict[int, int], first_line: dict[int, int]) -> PickupPlan:
    """The order pipeline's prepare for a pickup order: lock the pickup store's levels and check that
    it has every line, or raise OutOfStock naming the stores of the customer's prefecture that have
    every line (`alternatives`); nothing is written."""
    store = draft.fulfilled_from
    levels = locked_levels((store.pk, p) for p in wanted)
    short = {p: qty for p, qty in wanted.items() if levels[(store.pk, p)].available < qty}
    if short:
        errors = {
            f"lines.{first_line[p]}.quantity": [
                _("Only %(available)d available at this store, %(wanted)d ordered.")
                % {"available": max(levels[(store.pk, p)].available, 0), "wanted": qty}
            ]
            for p, qty in short.items()
        }
        prefecture = draft.customer.prefecture if draft.customer is not None else ""
        raise OutOfStock(
            _("The pickup store does not have every line."),
            errors=errors,
            alternatives=pickup_alternatives(wanted=wanted, prefecture=prefecture, exclude=store.code),
        )
    return PickupPlan(levels, store.pk, dict(wanted))


def write_pickup(draft, plan: PickupPlan) -> list[StockMovement]:
    """Hold the units at the pickup store: one reservation per product, linked to the order."""
    order = draft.order
    expires_at = expiry_for(kind=Reservation.Kind.PICKUP, now=timezone.now(), slot_start=None)
    moves = []
    for product_id, qty in sorted(plan.wanted.items()):
        reservation = _insert_with_unique_code(
            Reservation(
                kind=Reservation.Kind.PICKUP, customer_id=order.customer_id, store_id=plan.store_id,
                product_id=product_id, quantity=qty, order=order, expires_at=expires_at,
            )
        )  # fmt: skip
        moves.append(Move(plan.store_id, product_id, StockMovement.Kind.RESERVE, reserved=qty,
                          reference=order.public_id, key=f"{reservation.public_id}:reserve"))  # fmt: skip
    logger.info("pickup held order_id=%s store_id=%s", order.public_id, plan.store_id)
    return record_movements(plan.levels, moves)


def pickup_alternatives(*, wanted: dict[int, int], prefecture: str, exclude: str) -> list[str]:
    """Codes of active stores in the customer's prefecture that have every line available."""
    if not prefecture:
        return []
    rows = StockLevel.objects.filter(
        product_id__in=wanted, store__kind=Store.Kind.STORE, store__active=True, store__prefecture=prefecture,
        on_hand__gt=F("reserved"),
    ).values_list("store__code", "product_id", F("on_hand") - F("reserved"))  # fmt: skip
    by_store: dict[str, dict[int, int]] = defaultdict(dict)
    for code, product_id, available in rows:
        by_store[code][product_id] = available
    return sorted(
        code
        for code, stock in by_store.items()
        if code != exclude and all(stock.get(p, 0) >= q for p, q in wanted.items())
    )


def hand_over_pickup_order(*, order: Order) -> None:
    """The order was collected: its held units leave the store (a sale movement each)."""
    for reservation in Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE).order_by("pk"):
        _close(reservation, status=Reservation.Status.FULFILLED)


def release_cancelled_order(*, order: Order) -> None:
    """The order was cancelled before it left: a pickup's held units are released; a delivery's units
    (taken when it was recorded) go back on hand where they were taken."""
    if order.fulfilment_type == Order.Fulfilment.PICKUP:
        for reservation in Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE).order_by("pk"):
            _close(reservation, status=Reservation.Status.CANCELLED)
        return
    store_id = order.fulfilled_from_id or order.store_id
    quantities: dict[int, int] = defaultdict(int)
    for line in order.lines.all():
        quantities[line.product_id] += line.quantity - line.returned_quantity
    taken = set(
        StockMovement.objects.filter(reference=order.public_id, kind=StockMovement.Kind.SALE).values_list(
            "product_id", flat=True
        )
    )
    quantities = {p: q for p, q in quantities.items() if q and p in taken}
    levels = locked_levels((store_id, p) for p in quantities)
    record_movements(
        levels,
        [
            Move(store_id, product_id, StockMovement.Kind.RETURN, on_hand=qty, reference=order.public_id,
                 key=f"cancel:{order.public_id}:{product_id}", note="order cancelled")
            for product_id, qty in sorted(quantities.items())
        ],
    )  # fmt: skip


@dataclass
class HeldPlan:
    covered: dict[int, int] = field(default_factory=dict)  # product id -> units not taken again
    sells: list = field(default_factory=list)  # [(locked active hold, units sold from it)]


def plan_held_units(draft) -> HeldPlan:
    """The order pipeline's prepare for a store sale's lines that carry `reservation`: lock the holds
    they name and decide which units the sale does not take from the counted stock.

    - a pickup order's id (crm collected it earlier in this transaction): its units already left;
    - a hold's id or code at this store for this SKU: up to the line's quantity is sold from it (the
      rest released) in write_held_units. A hold no longer active (expired or cancelled a moment
      ago) already gave its units back, so the line takes counted stock like any sale: once either way.
    """
    plan = HeldPlan(covered=defaultdict(int))
    lines = [(i, line) for i, line in enumerate(draft.lines) if line.reservation]
    if not lines:
        return plan
    pickup_refs = {line.reservation for _, line in lines if line.reservation.startswith("ord_")}
    held_by_order: dict[tuple[str, int], int] = defaultdict(int)
    for ref, product_id, qty in Reservation.objects.filter(order__public_id__in=pickup_refs).values_list(
        "order__public_id", "product_id", "quantity"
    ):
        held_by_order[(ref, product_id)] += qty
    hold_refs = [line.reservation.strip() for _, line in lines if not line.reservation.startswith("ord_")]
    holds = {}
    if hold_refs:
        codes = [ref.upper() for ref in hold_refs]
        # A code is reused once its reservation closes: the active one wins, else the latest.
        for reservation in (
            Reservation.objects.select_for_update()
            .filter(Q(public_id__in=hold_refs) | Q(pickup_code__in=codes, store_id=draft.store.pk))
            .filter(order__isnull=True)
            .order_by("pk")
        ):
            holds[reservation.public_id] = reservation
            current = holds.get(reservation.pickup_code)
            if current is None or current.status != Reservation.Status.ACTIVE:
                holds[reservation.pickup_code] = reservation
    errors, selling = {}, set()
    for i, line in lines:
        product_id = line.product.pk
        if line.reservation.startswith("ord_"):
            units = min(line.quantity, held_by_order[(line.reservation, product_id)])
            held_by_order[(line.reservation, product_id)] -= units
            plan.covered[product_id] += units
            continue
        ref = line.reservation.strip()
        reservation = holds.get(ref) or holds.get(ref.upper())
        if reservation is None:
            errors[f"lines.{i}.reservation"] = [_("No hold or pickup with this id or code.")]
        elif reservation.store_id != draft.store.pk:
            errors[f"lines.{i}.reservation"] = [_("This reservation is at another store.")]
        elif reservation.product_id != product_id:
            errors[f"lines.{i}.reservation"] = [_("This reservation is for another product.")]
        elif reservation.kind == Reservation.Kind.TRY_ON:
            errors[f"lines.{i}.reservation"] = [_("A try-on holds nothing to sell.")]
        elif reservation.status == Reservation.Status.ACTIVE and reservation.pk not in selling:
            selling.add(reservation.pk)
            units = min(line.quantity, reservation.quantity)
            plan.sells.append((reservation, units))
            plan.covered[product_id] += units
    if errors:
        raise ValidationError(errors)
    return plan


def write_held_units(draft, plan: HeldPlan) -> None:
    for reservation, units in plan.sells:
        _sell_from_hold(reservation, units, reference=draft.public_id)


def _sell_from_hold(reservation: Reservation, sold: int, *, reference: str) -> None:
    pair = (reservation.store_id, reservation.product_id)
    levels = locked_levels([pair])
    ref = reservation.public_id
    moves = [Move(*pair, StockMovement.Kind.SALE, on_hand=-sold, reserved=-sold, reference=reference,
                  key=f"{ref}:close")]  # fmt: skip
    if reservation.quantity > sold:
        moves.append(Move(*pair, StockMovement.Kind.RELEASE, reserved=sold - reservation.quantity, reference=ref,
                          key=f"{ref}:close:rest"))  # fmt: skip
    record_movements(levels, moves)
    reservation.status, reservation.closed_at = Reservation.Status.FULFILLED, timezone.now()
    reservation.save(update_fields=["status", "closed_at"])
    logger.info("hold sold at the counter reservation_id=%s order_id=%s", ref, reference)
