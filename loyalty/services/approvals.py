"""Points are money: a manual adjustment above the approval limit, or one that takes its person's
or API key's awards of the day beyond the daily cap, is held as a PointAdjustment until a second
person, an admin who did not ask for it, approves it. Within the limits it is applied at once."""

import logging
from datetime import datetime, time

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.exceptions import InvalidState
from crm.models import Customer, Store
from crm.selectors import get_customer

from .. import conf
from ..exceptions import ApprovalRefused, ReferenceConflict
from ..models import PointAdjustment, PointTransaction
from .points import _check_points, _check_reason, adjust_points

logger = logging.getLogger(__name__)
APPROVE_PERMISSION = "loyalty.approve_pointadjustment"


def awarded_today(*, actor=None, api_key=None) -> int:
    """Points this person or key awarded by hand today (Tokyo), without anyone's approval."""
    if actor is None and api_key is None:
        return 0
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    rows = PointTransaction.objects.filter(
        kind=PointTransaction.Kind.ADJUST, points__gt=0, created_at__gte=start, approved_by__isnull=True
    )
    rows = rows.filter(api_key=api_key) if api_key is not None else rows.filter(actor=actor)
    return rows.aggregate(total=Sum("points"))["total"] or 0


def needs_approval(*, points: int, actor=None, api_key=None) -> bool:
    if abs(points) > conf.approval_points():
        return True
    return points > 0 and awarded_today(actor=actor, api_key=api_key) + points > conf.daily_award_points()


def _earlier(*, customer: Customer, reference: str, points: int):
    """What this reference already produced for the customer: a held request or a ledger row."""
    held = PointAdjustment.objects.filter(customer=customer, reference=reference).select_related("transaction").first()
    if held is not None:
        if held.points != points:
            raise ReferenceConflict(errors={"reference": [str(ReferenceConflict.title)]})
        return held.transaction if held.status == PointAdjustment.Status.APPROVED else held
    txn = PointTransaction.objects.filter(
        account__customer=customer, kind=PointTransaction.Kind.ADJUST, reference=reference
    ).first()
    if txn is not None and txn.points != points:
        raise ReferenceConflict(errors={"reference": [str(ReferenceConflict.title)]})
    return txn


def submit_point_adjustment(
    *,
    customer: Customer,
    points: int,
    reason: str,
    actor=None,
    api_key=None,
    reference: str = "",
    channel: str = "",
    store: Store | None = None,
) -> tuple[PointTransaction | PointAdjustment, bool]:
    """Adjust at once within the limits → (transaction, created); beyond them → (the held request,
    created). The same reference again answers what it produced the first time (created=False)."""
    _check_points(points, allow_negative=True)
    reason = _check_reason(reason)
    reference = (reference or "").strip()
    fields = {"points": points, "reason": reason, "reference": reference, "channel": channel, "store": store}
    if not needs_approval(points=points, actor=actor, api_key=api_key):
        return adjust_points(customer=customer, actor=actor, api_key=api_key, **fields)
    if reference and (earlier := _earlier(customer=customer, reference=reference, points=points)) is not None:
        return earlier, False
    try:
        with transaction.atomic():
            held = PointAdjustment.objects.create(
                customer=customer, requested_by=actor, requested_by_key=api_key, **fields
            )
    except IntegrityError:  # the same reference, sent twice at once
        return _earlier(customer=customer, reference=reference, points=points), False
    logger.info(
        "points adjustment held adjustment_id=%s customer_id=%s points=%d", held.public_id, customer.public_id, points
    )
    return held, True


def _decide(adjustment: PointAdjustment, approver) -> PointAdjustment:
    if not approver.has_perm(APPROVE_PERMISSION):
        raise ApprovalRefused(_("Only an admin approves or rejects point adjustments."))
    if adjustment.requested_by_id is not None and adjustment.requested_by_id == approver.pk:
        raise ApprovalRefused(_("A second person must decide on an adjustment you asked for."))
    locked = PointAdjustment.objects.select_for_update().get(pk=adjustment.pk)
    if locked.status != PointAdjustment.Status.PENDING:
        raise InvalidState(_("This adjustment has already been decided."))
    return locked


def approve_point_adjustment(*, adjustment: PointAdjustment, approver) -> PointTransaction:
    """Apply a held adjustment, once, recording who asked and who approved."""
    with transaction.atomic():
        held = _decide(adjustment, approver)
        customer = get_customer(held.customer.public_id)  # the survivor, if the customer was merged since
        txn, _created = adjust_points(
            customer=customer, points=held.points, reason=held.reason, actor=held.requested_by,
            api_key=held.requested_by_key, reference=held.reference, channel=held.channel, store=held.store,
            approved_by=approver,
        )  # fmt: skip
        held.status, held.decided_by, held.decided_at, held.transaction = "approved", approver, timezone.now(), txn
        held.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    logger.info("points adjustment approved adjustment_id=%s txn_id=%s", held.public_id, txn.public_id)
    return txn


def reject_point_adjustment(*, adjustment: PointAdjustment, approver) -> PointAdjustment:
    with transaction.atomic():
        held = _decide(adjustment, approver)
        held.status, held.decided_by, held.decided_at = "rejected", approver, timezone.now()
        held.save(update_fields=["status", "decided_by", "decided_at"])
    logger.info("points adjustment rejected adjustment_id=%s", held.public_id)
    return held
