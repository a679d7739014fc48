"""Receivers of crm's signals: one line each into a service of this app."""

from .services import move_customer_tickets


def on_customers_merged(sender, *, winner, loser, merge, **kwargs):
    move_customer_tickets(winner=winner, loser=loser, merge=merge)
