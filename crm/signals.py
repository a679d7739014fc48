"""Signals `crm` sends so that other apps can act without `crm` importing them.

All are sent *inside* the transaction of the write that causes them, so a receiver that raises
rolls the whole write back (e.g. inventory refusing an EC order that is out of stock).
Receivers are one line into a service of the owning app.
"""

from django.dispatch import Signal

# kwargs: order (crm.Order, lines saved), redeem_points (int, requested by the sender)
order_recorded = Signal()
# kwargs: order_return (crm.OrderReturn with lines saved), order
order_returned = Signal()
# kwargs: winner, loser (crm.Customer), merge (crm.CustomerMerge); receivers add their counts to
# merge.moved (a dict) so that the merge record says what moved.
customers_merged = Signal()
# kwargs: order (crm.Order, already `collected`). Sent inside the transaction: inventory hands the
# held units over (they leave the store once).
order_collected = Signal()
# kwargs: order (crm.Order, already `cancelled`), previous_status. Sent inside the transaction:
# inventory releases the held units or puts shipped-from stock back, loyalty gives back the redeemed
# points and takes back the earned ones.
order_cancelled = Signal()
