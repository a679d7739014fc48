"""crm's signals → inventory's services. One line each; the logic lives in services/.
Sent inside crm's transaction: raising OutOfStock refuses the whole order."""

from . import services


def on_order_recorded(sender, order, **kwargs):
    services.allocate_order(order=order)
    services.mark_try_on_assist(order=order)


def on_order_returned(sender, order, order_return, **kwargs):
    services.restock_return(order=order, order_return=order_return)


def on_customers_merged(sender, winner, loser, merge, **kwargs):
    services.move_reservations(winner=winner, loser=loser, merge=merge)


def on_order_collected(sender, order, **kwargs):
    services.hand_over_pickup_order(order=order)


def on_order_cancelled(sender, order, **kwargs):
    services.release_cancelled_order(order=order)
