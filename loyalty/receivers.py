"""crm's signals, each one line into a loyalty service (connected in LoyaltyConfig.ready()). Orders and
returns and cancellations reach loyalty as steps of crm's order pipeline (crm/registry.py), not through signals."""

from . import services


def on_customers_merged(sender, winner, loser, merge, **kwargs):
    services.merge_point_accounts(winner=winner, loser=loser, merge=merge)
