"""Points of a cancelled order: it never happened for the customer, so every redeemed point comes
back (to the lots it came from) and every earned point not yet reversed is taken back. Called by the
cancel step (crm/registry.py, position 20) inside crm's transaction."""

import logging

from django.db.models import Sum

from crm.models import Order

from ..models import PointAccount, PointTransaction
from .ledger import add_lot, consume_lots, expire_due_lots, expiry_for, lock_accounts, restore_lots, write_transaction

logger = logging.getLogger(__name__)


def reverse_cancelled_order_points(*, order: Order) -> list[PointTransaction]:
    rows = PointTransaction.objects.filter(order=order, kind__in=["earn", "redeem"]).select_related("account")
    originals = {txn.kind: txn for txn in rows}
    if not originals:
        return []
    account = lock_accounts([next(iter(originals.values())).account_id])[0]
    expire_due_lots(account=account)
    written = []
    for kind, original in sorted(originals.items(), key=lambda item: item[0] != "redeem"):
        # What returns already gave back (redeemed) or settled (earned: taken, or recorded as shortfall).
        done = PointTransaction.objects.filter(reverses=original).aggregate(
            points=Sum("points"), short=Sum("shortfall")
        )
        if kind == PointTransaction.Kind.REDEEM:
            left = abs(original.points) - (done["points"] or 0)
        else:
            left = original.points + (done["points"] or 0) - (done["short"] or 0)
        if left <= 0:
            continue
        if kind == PointTransaction.Kind.REDEEM:
            txn = write_transaction(
                account=account, kind=PointTransaction.Kind.REVERSE, points=left, channel=order.channel,
                store=order.store, order=order, reverses=original, reference=order.public_id,
                idempotency_key=f"cancel:{order.public_id}:redeem",
            )  # fmt: skip
            restored = restore_lots(original=original, txn=txn, points=left)
            if restored < left:
                add_lot(account=account, txn=txn, points=left - restored, expires_at=expiry_for(order.ordered_at))
        else:
            account.refresh_from_db(fields=["balance"])
            taking = min(left, account.balance)
            txn = write_transaction(
                account=account, kind=PointTransaction.Kind.REVERSE, points=-taking, channel=order.channel,
                store=order.store, order=order, reverses=original, reference=order.public_id,
                idempotency_key=f"cancel:{order.public_id}:earn", shortfall=left - taking,
            )  # fmt: skip
            if taking:
                consume_lots(account=account, txn=txn, points=taking, first=list(original.lots.filter(remaining__gt=0)))
        written.append(txn)
    paid = order.total - order.total * order.returned_amount // order.subtotal if order.subtotal else 0
    account.refresh_from_db(fields=["lifetime_spend"])
    PointAccount.objects.filter(pk=account.pk).update(lifetime_spend=max(0, account.lifetime_spend - paid))
    logger.info("order points reversed on cancel order_id=%s rows=%d", order.public_id, len(written))
    return written
