"""Points of orders: the `loyalty.points` step of crm's order pipeline (redeem, then earn on the part
paid in money) and of its returns (give back, take back). See the pipeline contract in crm/registry.py:
prepare() locks the point account and decides the points the order row is written with; write()
appends the ledger rows once the order row exists."""

import logging
import math
from decimal import Decimal
from fractions import Fraction

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Order, OrderLine, OrderReturn
from crm.registry import OrderDraft, ReturnDraft

from ..exceptions import InsufficientPoints
from ..models import PointAccount, PointTransaction
from ..selectors import Rules, rules
from .ledger import (
    add_lot,
    consume_lots,
    expire_due_lots,
    expiry_for,
    lock_accounts,
    locked_account_for,
    open_lots,
    restore_lots,
    write_transaction,
)

logger = logging.getLogger(__name__)
STEP = "loyalty.points"


def prepare_order_points(draft: OrderDraft) -> None:
    """Lock the customer's point account; refuse a redemption above the balance (InsufficientPoints,
    after expiring what is past its date); decide the points earned. Guests earn nothing."""
    if draft.customer is None:
        return
    account = locked_account_for(draft.customer)
    lots = None
    if draft.redeem_points:
        lots = open_lots(account)
        expire_due_lots(account=account, lots=lots)
        lots = [lot for lot in lots if lot.remaining > 0]
        if account.balance < draft.redeem_points:
            raise InsufficientPoints(
                _("The customer has %(balance)d points.") % {"balance": account.balance}, balance=account.balance
            )
    points, per_line = points_for_order(draft=draft, account=account, rules=rules.get())
    draft.points_earned = points
    draft.plans[STEP] = (account, lots, per_line)
    draft.answer["points_balance"] = account.balance - draft.redeem_points + points


def write_order_points(draft: OrderDraft) -> list[PointTransaction]:
    """The redemption and the earning as ledger rows (one INSERT), the balance and lifetime spend
    moved once, the redeemed lots consumed oldest expiry first and the earned points as a new lot."""
    if STEP not in draft.plans:
        return []
    account, lots, per_line = draft.plans[STEP]
    order = draft.order
    common = {"account": account, "channel": order.channel, "store": order.store, "order": order,
              "reference": order.public_id}  # fmt: skip
    redeem = earn = None
    if draft.redeem_points:
        redeem = PointTransaction(kind=PointTransaction.Kind.REDEEM, points=-draft.redeem_points,
                                  idempotency_key=f"redeem:{account.pk}:{order.public_id}", **common)  # fmt: skip
    if order.points_earned > 0:
        earn = PointTransaction(
            kind=PointTransaction.Kind.EARN, points=order.points_earned,
            idempotency_key=f"order:{order.public_id}:earn",
            detail={"lines": {str(number): share for number, share in per_line.items()}}, **common,
        )  # fmt: skip
    written = PointTransaction.objects.bulk_create([txn for txn in (redeem, earn) if txn is not None])
    change = order.points_earned - draft.redeem_points
    PointAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") + change, lifetime_spend=F("lifetime_spend") + order.total
    )
    account.balance += change
    account.lifetime_spend += order.total
    if redeem is not None:
        consume_lots(account=account, txn=redeem, points=draft.redeem_points, lots=lots)
    if earn is not None:
        add_lot(account=account, txn=earn, points=earn.points, expires_at=expiry_for(order.ordered_at))
    return written


def points_for_order(*, draft: OrderDraft, account: PointAccount, rules: Rules) -> tuple[int, dict[int, int]]:
    """(points, {line_number: points}) that this order earns: the channel's rule, the tier's multiplier
    and the best campaign of each line, rounded down once over the order; the shares sum to the points,
    so a return of some lines takes back exactly their share."""
    rule = rules.earn_rules.get(draft.channel)
    if rule is None or draft.total <= 0 or draft.subtotal <= 0:
        return 0, {}
    tier = rules.tier(account.tier_id)
    tier_multiplier = Fraction(tier.multiplier if tier else Decimal(1))
    campaigns = [
        c for c in rules.campaigns
        if c.starts_at <= draft.ordered_at < c.ends_at and c.store_id in (None, draft.store.pk)
        and c.channel in ("", draft.channel)
    ]  # fmt: skip
    raw = {}
    for line in draft.lines:
        paid = Fraction(line.amount * draft.total, draft.subtotal)  # the line's share of the money paid
        best = max(
            (Fraction(c.multiplier) for c in campaigns if not c.category or c.category == line.product.category),
            default=Fraction(1),
        )
        raw[line.line_number] = paid * tier_multiplier * best * rule.points_per_unit / rule.yen_per_unit
    points = math.floor(sum(raw.values(), Fraction(0)))
    return points, _largest_remainder(raw, points)


def _largest_remainder(raw: dict[int, Fraction], total: int) -> dict[int, int]:
    shares = {key: math.floor(value) for key, value in raw.items()}
    left = total - sum(shares.values())
    for key in sorted(raw, key=lambda k: (raw[k] - shares[k], -k), reverse=True)[:left]:
        shares[key] += 1
    return shares


def reverse_return_points(draft: ReturnDraft) -> list[PointTransaction]:
    """The `loyalty.points` step of a return."""
    return reverse_order_points(order=draft.order, order_return=draft.order_return, lines=draft.lines)


def reverse_order_points(*, order: Order, order_return: OrderReturn, lines: list) -> list[PointTransaction]:
    """A return gives back the redeemed points in proportion to the money returned and takes back
    the earned points of the returned lines; partial returns add up to the whole on a full return.
    `lines` are the returned (order line, quantity) pairs, as crm holds them.

    The balance never goes below zero: redeemed points are given back first, then the earned points
    are taken from the order's own lot, then from other lots oldest first. Whatever the customer
    has already spent beyond that is not taken: it is recorded as `shortfall` on the reversal
    (visible in the ledger and the finance figures) for the retailer to settle at the counter.
    """
    rows = PointTransaction.objects.filter(order=order, kind__in=["earn", "redeem"]).select_related("account")
    originals = {txn.kind: txn for txn in rows}
    if not originals:
        return []
    account = next(iter(originals.values())).account
    account = lock_accounts([account.pk])[0]
    expire_due_lots(account=account)
    written = []
    redeem = originals.get(PointTransaction.Kind.REDEEM)
    if redeem is not None:
        after, before = order.returned_amount, order.returned_amount - order_return.amount
        share = -redeem.points * after // order.subtotal - (-redeem.points * before // order.subtotal)
        if share > 0:
            written.append(_give_back_redeemed(account=account, order=order, order_return=order_return,
                                               redeem=redeem, points=share))  # fmt: skip
    earn = originals.get(PointTransaction.Kind.EARN)
    if earn is not None:
        share = _earned_share_of_return(earn=earn, lines=lines)
        if share > 0:
            written.append(_take_back_earned(account=account, order=order, order_return=order_return,
                                             earn=earn, points=share))  # fmt: skip
    paid_back = order.total * order.returned_amount // order.subtotal - (
        order.total * (order.returned_amount - order_return.amount) // order.subtotal
    )
    PointAccount.objects.filter(pk=account.pk).update(lifetime_spend=max(0, account.lifetime_spend - paid_back))
    return written


def _earned_share_of_return(*, earn: PointTransaction, lines: list[tuple[OrderLine, int]]) -> int:
    shares = {int(k): v for k, v in earn.detail.get("lines", {}).items()}
    points = 0
    for line, this_time in lines:
        line_points = shares.get(line.line_number, 0)
        after = line.returned_quantity
        points += line_points * after // line.quantity - line_points * (after - this_time) // line.quantity
    return points


def _give_back_redeemed(*, account, order, order_return, redeem, points) -> PointTransaction:
    txn = write_transaction(
        account=account, kind=PointTransaction.Kind.REVERSE, points=points, channel=order.channel,
        store=order.store, order=order, order_return=order_return, reverses=redeem, reference=order_return.public_id,
        idempotency_key=f"return:{order_return.public_id}:redeem",
    )  # fmt: skip
    restored = restore_lots(original=redeem, txn=txn, points=points)
    if restored < points:  # lots moved by a merge are still the same rows, so this does not happen
        add_lot(account=account, txn=txn, points=points - restored, expires_at=expiry_for(timezone.now()))
    return txn


def _take_back_earned(*, account, order, order_return, earn, points) -> PointTransaction:
    wanted = points
    taking = min(wanted, account.balance)
    txn = write_transaction(
        account=account, kind=PointTransaction.Kind.REVERSE, points=-taking, channel=order.channel,
        store=order.store, order=order, order_return=order_return, reverses=earn, reference=order_return.public_id,
        idempotency_key=f"return:{order_return.public_id}:earn", shortfall=wanted - taking,
    )  # fmt: skip
    if taking:
        consume_lots(account=account, txn=txn, points=taking, first=list(earn.lots.filter(remaining__gt=0)))
    if wanted > taking:
        logger.warning(
            "points reversal short txn_id=%s order_id=%s shortfall=%d", txn.public_id, order.public_id, wanted - taking
        )
    return txn
