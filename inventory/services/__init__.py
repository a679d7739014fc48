"""Every write of inventory. Views, API views, admin, tasks, commands and receivers call these."""

from .orders import allocate_order, move_reservations, restock_return, ship_from_store_candidates
from .pickups import hand_over_pickup_order, hold_pickup_order, release_cancelled_order, take_held_units
from .reservations import (
    cancel_reservation,
    create_reservation,
    expire_reservations,
    fulfil_reservation,
    holds_due_for_reminder,
    send_hold_reminder_mail,
    send_pickup_ready_mail,
)
from .stock import (
    Move,
    adjust_stock,
    ensure_stock_levels,
    lock_stock_levels,
    locked_levels,
    receive_stock,
    record_movements,
    resolve_discrepancy,
)
from .sync import sync_stock_counts
from .transfers import receive_transfer, ship_transfer
from .tryon import mark_try_on_assist

__all__ = [
    "Move",
    "adjust_stock",
    "allocate_order",
    "cancel_reservation",
    "create_reservation",
    "ensure_stock_levels",
    "expire_reservations",
    "fulfil_reservation",
    "hand_over_pickup_order",
    "hold_pickup_order",
    "holds_due_for_reminder",
    "lock_stock_levels",
    "locked_levels",
    "mark_try_on_assist",
    "move_reservations",
    "receive_stock",
    "receive_transfer",
    "record_movements",
    "release_cancelled_order",
    "resolve_discrepancy",
    "restock_return",
    "send_hold_reminder_mail",
    "send_pickup_ready_mail",
    "ship_from_store_candidates",
    "ship_transfer",
    "sync_stock_counts",
    "take_held_units",
]
