"""Points of orders: redeemed and earned when an order is recorded, given back and taken back when
lines are returned. Called by the receivers of crm's order signals, inside crm's transaction."""

import logging
import math
from decimal import Decimal
from fractions import Fraction

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.models import Order, OrderLine, OrderReturn
from crm.services import set_order_points_earned, set_orders_points_earned

from ..models import EarnRule, PointAccount, PointCampaign, PointLot, PointTransaction, Tier
from .expiry import new_transaction_ids
from .ledger import (
    add_lot,
    base_tier,
    consume_lots,
    expire_due_lots,
    expiry_for,
    lock_accounts,
    locked_account_for,
    restore_lots,
    write_transaction,
)
from .points import redeem_points

logger = logging.getLogger(__name__)


def apply_order_points(*, order: Order, redeem_points: int) -> PointTransaction | None:
    """Redeem what the order pays with points (InsufficientPoints refuses the whole order), then earn
    on the part paid in money (`total` = subtotal − points redeemed). Guests earn nothing."""
    if order.customer_id is None:
        return None
    if redeem_points:
        redeem_points_for_order(order=order, points=redeem_points)
    return earn_order_points(order=order)


def redeem_points_for_order(*, order: Order, points: int) -> PointTransaction:
    txn, _ = redeem_points(
        customer=order.customer, points=points, channel=order.channel, store=order.store,
        reference=order.public_id, order=order,
    )  # fmt: skip
    return txn


def earn_order_points(*, order: Order) -> PointTransaction | None:
    """Earn by the channel's rule, the tier's multiplier and the best campaign of each line, rounded
    down once over the order. The ledger row keeps each line's share, so a return of some lines
    takes back exactly their share."""
    account = locked_account_for(order.customer)
    points, per_line = points_for_order(order=order, account=account)
    if points <= 0:
        PointAccount.objects.filter(pk=account.pk).update(lifetime_spend=F("lifetime_spend") + order.total)
        return None
    txn = write_transaction(
        account=account, kind=PointTransaction.Kind.EARN, points=points, spend=order.total, channel=order.channel,
        store=order.store, order=order, reference=order.public_id, idempotency_key=f"order:{order.public_id}:earn",
        detail={"lines": {str(number): share for number, share in per_line.items()}},
    )  # fmt: skip
    add_lot(account=account, txn=txn, points=points, expires_at=expiry_for(order.ordered_at))
    set_order_points_earned(order=order, points=points)
    return txn


def points_for_order(*, order: Order, account: PointAccount) -> tuple[int, dict[int, int]]:
    """(points, {line_number: points}) that this order earns; the shares sum to the points."""
    rule = EarnRule.objects.filter(channel=order.channel, active=True).first()
    if rule is None or order.total <= 0 or order.subtotal <= 0:
        return 0, {}
    tier = account.tier if account.tier_id else base_tier()
    campaigns = list(
        PointCampaign.objects.filter(active=True, starts_at__lte=order.ordered_at, ends_at__gt=order.ordered_at)
        .filter(Q(store__isnull=True) | Q(store=order.store_id))
        .filter(Q(channel="") | Q(channel=order.channel))
    )
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_number"))
    return _order_points(order=order, lines=lines, rule=rule, tier=tier, campaigns=campaigns)


def _order_points(*, order, lines, rule, tier, campaigns) -> tuple[int, dict[int, int]]:
    """The arithmetic of points_for_order, given what it reads (shared with earn_points_for_orders)."""
    tier_multiplier = Fraction(tier.multiplier if tier else Decimal(1))
    raw = {}
    for line in lines:
        paid = Fraction(line.amount * order.total, order.subtotal)  # the line's share of the money paid
        best = max(
            (Fraction(c.multiplier) for c in campaigns if not c.category or c.category == line.product.category),
            default=Fraction(1),
        )
        raw[line.line_number] = paid * tier_multiplier * best * rule.points_per_unit / rule.yen_per_unit
    points = math.floor(sum(raw.values(), Fraction(0)))
    return points, _largest_remainder(raw, points)


def earn_points_for_orders(*, orders) -> dict:
    """What earn_order_points does, for many orders already recorded without it (bulk-loaded history,
    such as the demo's): the same points, ledger rows, lots and order figures, written set-based.
    Orders that have earned already, and guests' orders, are skipped, so a second call writes nothing.
    Returns {"orders", "points"}."""
    earned = PointTransaction.objects.filter(kind=PointTransaction.Kind.EARN, order__isnull=False).values("order_id")
    orders = list(orders.filter(customer__isnull=False).exclude(pk__in=earned).order_by("ordered_at", "pk"))
    if not orders:
        return {"orders": 0, "points": 0}
    rules = {r.channel: r for r in EarnRule.objects.filter(active=True)}
    campaigns = list(PointCampaign.objects.filter(active=True))
    lines: dict[int, list] = {}
    for line in (
        OrderLine.objects.filter(order__in=[o.pk for o in orders])
        .select_related("product")
        .order_by("order_id", "line_number")
    ):
        lines.setdefault(line.order_id, []).append(line)
    customer_ids = {o.customer_id for o in orders}
    PointAccount.objects.bulk_create([PointAccount(customer_id=c) for c in customer_ids], ignore_conflicts=True)
    base = base_tier()
    with transaction.atomic():
        accounts = {a.customer_id: a for a in lock_accounts(
            PointAccount.objects.filter(customer_id__in=customer_ids).values_list("pk", flat=True)
        )}  # fmt: skip
        tiers = {t.pk: t for t in Tier.objects.all()}
        txns, lots, points_by_order = [], [], {}
        moved: dict[int, list[int]] = {a.pk: [0, 0] for a in accounts.values()}  # account -> [points, spend]
        public_ids = iter(new_transaction_ids(len(orders)))
        for order in orders:
            account = accounts[order.customer_id]
            moved[account.pk][1] += order.total
            rule = rules.get(order.channel)
            if rule is None or order.total <= 0 or order.subtotal <= 0:
                continue
            tier = tiers[account.tier_id] if account.tier_id else base
            applicable = [
                c for c in campaigns
                if c.starts_at <= order.ordered_at < c.ends_at and c.store_id in (None, order.store_id)
                and c.channel in ("", order.channel)
            ]  # fmt: skip
            points, per_line = _order_points(
                order=order, lines=lines.get(order.pk, []), rule=rule, tier=tier, campaigns=applicable
            )
            if points <= 0:
                continue
            moved[account.pk][0] += points
            points_by_order[order.pk] = points
            txns.append(PointTransaction(
                public_id=next(public_ids), account=account, kind=PointTransaction.Kind.EARN, points=points,
                channel=order.channel, store_id=order.store_id, order=order, reference=order.public_id,
                idempotency_key=f"order:{order.public_id}:earn",
                detail={"lines": {str(number): share for number, share in per_line.items()}},
            ))  # fmt: skip
        PointTransaction.objects.bulk_create(txns, batch_size=2000)
        if connection.vendor != "postgresql" and txns and txns[0].pk is None:
            ids = dict(PointTransaction.objects.filter(public_id__in=[t.public_id for t in txns]).values_list(
                "public_id", "pk"
            ))  # fmt: skip
            for txn in txns:
                txn.pk = ids[txn.public_id]
        for txn in txns:
            lots.append(PointLot(
                account=txn.account, earned_by=txn, points=txn.points, remaining=txn.points,
                expires_at=expiry_for(txn.order.ordered_at),
            ))  # fmt: skip
        PointLot.objects.bulk_create(lots, batch_size=2000)
        with connection.cursor() as cursor:  # F() increments, one statement for every account (executemany)
            cursor.executemany(
                f"UPDATE {PointAccount._meta.db_table} SET balance = balance + %s, "  # noqa: S608  # nosec B608  the model's table
                "lifetime_spend = lifetime_spend + %s WHERE id = %s",
                [(points, spend, pk) for pk, (points, spend) in moved.items() if points or spend],
            )
        set_orders_points_earned(points_by_order=points_by_order)
    total = sum(points_by_order.values())
    logger.info("points earned for past orders orders=%d points=%d", len(points_by_order), total)
    return {"orders": len(points_by_order), "points": total}


def _largest_remainder(raw: dict[int, Fraction], total: int) -> dict[int, int]:
    shares = {key: math.floor(value) for key, value in raw.items()}
    left = total - sum(shares.values())
    for key in sorted(raw, key=lambda k: (raw[k] - shares[k], -k), reverse=True)[:left]:
        shares[key] += 1
    return shares


def reverse_order_points(*, order: Order, order_return: OrderReturn) -> list[PointTransaction]:
    """A return gives back the redeemed points in proportion to the money returned and takes back
    the earned points of the returned lines; partial returns add up to the whole on a full return.

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
        share = _earned_share_of_return(earn=earn, order_return=order_return)
        if share > 0:
            written.append(_take_back_earned(account=account, order=order, order_return=order_return,
                                             earn=earn, points=share))  # fmt: skip
    paid_back = order.total * order.returned_amount // order.subtotal - (
        order.total * (order.returned_amount - order_return.amount) // order.subtotal
    )
    PointAccount.objects.filter(pk=account.pk).update(lifetime_spend=max(0, account.lifetime_spend - paid_back))
    return written


def _earned_share_of_return(*, earn: PointTransaction, order_return: OrderReturn) -> int:
    shares = {int(k): v for k, v in earn.detail.get("lines", {}).items()}
    returned = OrderLine.objects.filter(return_lines__order_return=order_return).values_list(
        "line_number", "quantity", "returned_quantity", "return_lines__quantity"
    )
    points = 0
    for number, quantity, after, this_time in returned:
        line_points = shares.get(number, 0)
        points += line_points * after // quantity - line_points * (after - this_time) // quantity
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
