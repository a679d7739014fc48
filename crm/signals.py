"""Signals `crm` sends so that other apps can act without `crm` importing them.

`order_recorded` and `order_returned` are sent AFTER the transaction commits, for work that must
never refuse or slow the sale (purchase summary, metrics, mails, webhooks): a receiver queues a
Celery task, and its faults are logged, not raised. The work that belongs to the sale itself
(points, stock) is a step of the order pipeline in crm/registry.py, not a receiver.

`customers_merged` is sent inside the merge's transaction; receivers are one line into a service
of the owning app and move that app's rows.
"""

from django.dispatch import Signal

# kwargs: order (crm.Order, committed), redeem_points (int, requested by the sender)
order_recorded = Signal()
# kwargs: order_return (crm.OrderReturn with lines, committed), order
order_returned = Signal()
# kwargs: winner, loser (crm.Customer), merge (crm.CustomerMerge); receivers add their counts to
# merge.moved (a dict) so that the merge record says what moved.
customers_merged = Signal()
# kwargs: order (crm.Order, already `collected`). Sent inside the transaction: inventory hands the
# held units over (they leave the store once).
order_collected = Signal()
# kwargs: customer (crm.Customer), email (str), phone (str), identities (list of (channel, external_id)):
# a customer was created, or given a new email, phone or channel account. The contact hub attaches
# the tickets of an unknown sender with that contact to the customer (API.md, Contact hub).
customer_identified = Signal()
