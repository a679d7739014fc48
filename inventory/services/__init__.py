"""Every write of inventory. Views, API views, admin, tasks, commands and receivers call these."""

from .orders import (
    choose_ship_from_store,
    lock_ship_from_store_candidates,
    move_reservations,
    prepare_order_stock,
    restock_return,
    write_order_stock,
)
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

__all__ = [
    "Move",
    "adjust_stock",
    "cancel_reservation",
    "choose_ship_from_store",
    "create_reservation",
    "ensure_stock_levels",
    "expire_reservations",
    "fulfil_reservation",
    "holds_due_for_reminder",
    "lock_ship_from_store_candidates",
    "lock_stock_levels",
    "locked_levels",
    "move_reservations",
    "prepare_order_stock",
    "receive_stock",
    "receive_transfer",
    "record_movements",
    "resolve_discrepancy",
    "restock_return",
    "send_hold_reminder_mail",
    "send_pickup_ready_mail",
    "ship_transfer",
    "sync_stock_counts",
    "write_order_stock",
]
