"""Redeeming and adjusting points by hand or through the API (orders use services/orders.py)."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer, Order, Store

from ..exceptions import InsufficientPoints, ReferenceConflict
from ..models import PointTransaction
from .ledger import (
    add_lot,
    consume_lots,
    expire_due_lots,
    expiry_for,
    locked_account_for,
    open_lots,
    write_transaction,
)

logger = logging.getLogger(__name__)

MAX_POINTS = 10_000_000


def _check_points(points, *, allow_negative: bool = False) -> None:
    valid = isinstance(points, int) and not isinstance(points, bool)
    if valid and allow_negative:
        valid = points != 0 and abs(points) <= MAX_POINTS
    elif valid:
        valid = 1 <= points <= MAX_POINTS
    if not valid:
        message = (
            _("A whole number of points from −10,000,000 to 10,000,000, not zero.")
            if allow_negative
            else _("A whole number of points from 1 to 10,000,000.")
        )
        raise ValidationError({"points": [message]})


def _check_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the points are adjusted.")]})
    return reason


def _replay(*, account, kind: str, reference: str, points: int) -> PointTransaction | None:
    """The earlier transaction with this reference on this account (a retry), if any. Looked up under
    the account lock, so a concurrent duplicate sees the first one once it has committed."""
    if not reference:
        return None
    earlier = PointTransaction.objects.filter(account=account, kind=kind, reference=reference).first()
    if earlier is not None and earlier.points != points:
        raise ReferenceConflict(errors={"reference": [str(ReferenceConflict.title)]})
    return earlier


def redeem_points(
    *,
    customer: Customer,
    points: int,
    channel: str,
    reference: str = "",
    store: Store | None = None,
    actor=None,
    reason: str = "",
    order: Order | None = None,
) -> tuple[PointTransaction, bool]:
    """Spend points from any channel, oldest-expiring lots first. The same `reference` again answers
    the original transaction (created=False) and spends nothing. More than the balance raises
    InsufficientPoints and writes nothing."""
    _check_points(points)
    reference = (reference or "").strip()
    with transaction.atomic():
        account = locked_account_for(customer)
        earlier = _replay(account=account, kind=PointTransaction.Kind.REDEEM, reference=reference, points=-points)
        if earlier is not None:
            return earlier, False
        lots = open_lots(account)
        expire_due_lots(account=account, lots=lots)
        if account.balance < points:
            raise InsufficientPoints(
                _("The customer has %(balance)d points.") % {"balance": account.balance}, balance=account.balance
            )
        txn = write_transaction(
            account=account, kind=PointTransaction.Kind.REDEEM, points=-points, channel=channel, store=store,
            reference=reference, actor=actor, reason=(reason or "").strip(), order=order,
            idempotency_key=f"redeem:{account.pk}:{reference}" if reference else None,
        )  # fmt: skip
        consume_lots(account=account, txn=txn, points=points, lots=lots)
    logger.info("points redeemed txn_id=%s customer_id=%s points=%d", txn.public_id, customer.public_id, points)
    return txn, True


def adjust_points(
    *,
    customer: Customer,
    points: int,
    reason: str,
    actor=None,
    reference: str = "",
    channel: str = "",
    store: Store | None = None,
    api_key=None,
    approved_by=None,
) -> tuple[PointTransaction, bool]:
    """A manual correction or award, always with a reason (audited: actor or API key, approver,
    time, reason are kept). Positive points form a new lot that expires like earned points; negative
    points are taken oldest-expiring first and may not take the balance below zero
    (InsufficientPoints). Applies at once: requests from people and integrations go through
    submit_point_adjustment, which holds large ones for approval."""
    _check_points(points, allow_negative=True)
    reason = _check_reason(reason)
    reference = (reference or "").strip()
    with transaction.atomic():
        account = locked_account_for(customer)
        earlier = _replay(account=account, kind=PointTransaction.Kind.ADJUST, reference=reference, points=points)
        if earlier is not None:
            return earlier, False
        expire_due_lots(account=account)
        if points < 0 and account.balance < -points:
            raise InsufficientPoints(
                _("The customer has %(balance)d points.") % {"balance": account.balance}, balance=account.balance
            )
        txn = write_transaction(
            account=account, kind=PointTransaction.Kind.ADJUST, points=points, channel=channel, store=store,
            reference=reference, actor=actor, api_key=api_key, approved_by=approved_by, reason=reason,
            idempotency_key=f"adjust:{account.pk}:{reference}" if reference else None,
        )  # fmt: skip
        if points > 0:
            add_lot(account=account, txn=txn, points=points, expires_at=expiry_for(timezone.now()))
        else:
            consume_lots(account=account, txn=txn, points=-points)
    logger.info("points adjusted txn_id=%s customer_id=%s points=%d", txn.public_id, customer.public_id, points)
    return txn, True
