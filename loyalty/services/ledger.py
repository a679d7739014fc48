"""The ledger primitives every points service is built from. Callers hold the account's row lock
(lock_accounts) inside their transaction; these functions never lock on their own."""

from collections.abc import Iterable
from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.db.models import F, Sum
from django.utils import timezone

from crm.models import Customer

from .. import conf
from ..models import PointAccount, PointLot, PointLotUse, PointTransaction, Tier


def lock_accounts(ids: Iterable[int]) -> list[PointAccount]:
    """Lock accounts in primary-key order, so two transactions never wait on each other in a circle.
    Every write to a balance, a lot or the ledger happens under this lock."""
    return list(PointAccount.objects.filter(pk__in=list(ids)).order_by("pk").select_for_update(of=("self",)))


def ensure_account(customer: Customer) -> PointAccount:
    """The customer's account, created on first use (a concurrent first use creates one row)."""
    account = PointAccount.objects.filter(customer=customer).first()
    if account is None:
        PointAccount.objects.bulk_create([PointAccount(customer=customer)], ignore_conflicts=True)
        account = PointAccount.objects.get(customer=customer)
    return account


def locked_account_for(customer: Customer) -> PointAccount:
    """The customer's account, locked (one row: locking it by customer is the same as by pk)."""
    account = PointAccount.objects.select_for_update(of=("self",)).filter(customer=customer).first()
    return account or lock_accounts([ensure_account(customer).pk])[0]


def expiry_for(earned_at: datetime) -> datetime:
    return earned_at + relativedelta(months=conf.expiry_months())


def base_tier() -> Tier | None:
    return Tier.objects.order_by("min_spend").first()


def write_transaction(*, account: PointAccount, kind: str, points: int, spend: int = 0, **fields) -> PointTransaction:
    """Append one ledger row and move the cached balance by the same amount (F(), same transaction),
    and the lifetime spend by `spend` yen. The CHECK constraint refuses a balance below zero, so a
    bug cannot leave one."""
    txn = PointTransaction.objects.create(account=account, kind=kind, points=points, **fields)
    if points or spend:
        PointAccount.objects.filter(pk=account.pk).update(
            balance=F("balance") + points, lifetime_spend=F("lifetime_spend") + spend
        )
        account.balance += points
        account.lifetime_spend += spend
    return txn


def add_lot(*, account: PointAccount, txn: PointTransaction, points: int, expires_at: datetime) -> PointLot:
    return PointLot.objects.create(
        account=account, earned_by=txn, points=points, remaining=points, expires_at=expires_at
    )


def open_lots(account: PointAccount) -> list[PointLot]:
    """The account's lots with points left, in the order they are spent: oldest expiry first."""
    return list(account.lots.filter(remaining__gt=0).order_by("expires_at", "pk"))


def consume_lots(
    *, account: PointAccount, txn: PointTransaction, points: int, first: list[PointLot] = (), lots=None
) -> int:
    """Take up to `points` from the account's lots: the lots in `first`, then oldest expiry first
    (`lots`, when the caller has just read open_lots()). Records each take in PointLotUse and
    returns how many points were taken."""
    left, uses = points, []
    first_ids = {lot.pk for lot in first}
    rest = open_lots(account) if lots is None else lots
    candidates = list(first) + [lot for lot in rest if lot.pk not in first_ids]
    for lot in candidates:
        if left <= 0:
            break
        take = min(lot.remaining, left)
        if take <= 0:
            continue
        PointLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        lot.remaining -= take
        uses.append(PointLotUse(transaction=txn, lot=lot, points=-take))
        left -= take
    PointLotUse.objects.bulk_create(uses)
    return points - left


def restore_lots(*, original: PointTransaction, txn: PointTransaction, points: int) -> int:
    """Give back up to `points` to the lots `original` (a redemption) took them from, longest-lived
    lot first; a lot gets back at most what `original` took from it and earlier reversals have
    not yet returned. Returns how many points were restored."""
    taken = dict(PointLotUse.objects.filter(transaction=original).values_list("lot_id").annotate(n=-Sum("points")))
    returned = dict(
        PointLotUse.objects.filter(transaction__reverses=original, lot_id__in=taken)
        .values_list("lot_id")
        .annotate(n=Sum("points"))
    )
    left, uses = points, []
    for lot in PointLot.objects.filter(pk__in=taken).order_by("-expires_at", "-pk"):
        if left <= 0:
            break
        give = min(taken[lot.pk] - returned.get(lot.pk, 0), left)
        if give <= 0:
            continue
        PointLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") + give)
        uses.append(PointLotUse(transaction=txn, lot=lot, points=give))
        left -= give
    PointLotUse.objects.bulk_create(uses)
    return points - left


def expire_due_lots(*, account: PointAccount, now: datetime | None = None, lots=None) -> PointTransaction | None:
    """Expire this account's lots that are past their date, before points are spent: points past
    their date are never redeemed, even in the hours before the nightly expiry run. `lots` are the
    account's open lots when the caller has read them already."""
    now = now or timezone.now()
    lots = open_lots(account) if lots is None else lots
    due = [lot for lot in lots if lot.expires_at <= now and lot.remaining > 0]
    if not due:
        return None
    points = sum(lot.remaining for lot in due)
    txn = write_transaction(account=account, kind=PointTransaction.Kind.EXPIRE, points=-points)
    consume_lots(account=account, txn=txn, points=points, first=due, lots=[])
    return txn
