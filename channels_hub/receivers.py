"""Receivers of crm's signals: one line each into a service of this app."""

from .services import move_customer_tickets
from .services.tickets import attach_leads


def on_customers_merged(sender, *, winner, loser, merge, **kwargs):
    move_customer_tickets(winner=winner, loser=loser, merge=merge)


def on_customer_identified(sender, *, customer, email, phone, identities, **kwargs):
    attach_leads(customer=customer, email=email, phone=phone, identities=identities)
