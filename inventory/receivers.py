"""crm's signals → inventory's services. One line each; the logic lives in services/. Orders and returns
reach inventory as steps of crm's order pipeline (crm/registry.py), not through signals."""

from . import services


def on_customers_merged(sender, winner, loser, merge, **kwargs):
    services.move_reservations(winner=winner, loser=loser, merge=merge)


def on_order_collected(sender, order, **kwargs):
    services.hand_over_pickup_order(order=order)
