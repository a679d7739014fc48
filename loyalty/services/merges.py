"""Merging customers: one balance under the survivor, nothing of the ledger deleted."""

from django.db.models import F

from crm.models import Customer, CustomerMerge

from ..models import PointAccount, PointLot, PointTransaction, TierChange
from .ledger import lock_accounts


def merge_point_accounts(*, winner: Customer, loser: Customer, merge: CustomerMerge) -> None:
    """Move the loser's lots and transactions to the winner's account and add its balance there.
    If only the loser has an account, the account itself moves. The loser's emptied account row
    stays (balance 0, no rows of its own), so the ledger stays whole. Runs inside merge_customers'
    transaction; adds `points` and `point_transactions` to merge.moved."""
    ids = PointAccount.objects.filter(customer__in=[winner, loser]).values_list("pk", flat=True)
    accounts = {account.customer_id: account for account in lock_accounts(ids)}
    source, target = accounts.get(loser.pk), accounts.get(winner.pk)
    if source is None:
        return
    moved_transactions = source.transactions.count()
    if target is None:
        PointAccount.objects.filter(pk=source.pk).update(customer=winner)
    else:
        PointLot.objects.filter(account=source).update(account=target)
        PointTransaction.objects.filter(account=source).update(account=target)
        TierChange.objects.filter(account=source).update(account=target)
        higher_tier = max((a.tier for a in (source, target) if a.tier_id), key=lambda t: t.min_spend, default=None)
        PointAccount.objects.filter(pk=target.pk).update(
            balance=F("balance") + source.balance,
            lifetime_spend=F("lifetime_spend") + source.lifetime_spend,
            tier=higher_tier,
        )
        PointAccount.objects.filter(pk=source.pk).update(balance=0, lifetime_spend=0)
    merge.moved["points"] = source.balance
    merge.moved["point_transactions"] = moved_transactions
