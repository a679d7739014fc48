"""crm's signals, each one line into a loyalty service (connected in LoyaltyConfig.ready())."""

from . import services


def on_order_recorded(sender, order, redeem_points=0, **kwargs):
    services.apply_order_points(order=order, redeem_points=redeem_points)


def on_order_returned(sender, order, order_return, **kwargs):
    services.reverse_order_points(order=order, order_return=order_return)


def on_customers_merged(sender, winner, loser, merge, **kwargs):
    services.merge_point_accounts(winner=winner, loser=loser, merge=merge)


def on_order_cancelled(sender, order, **kwargs):
    services.reverse_cancelled_order_points(order=order)
