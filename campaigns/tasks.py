"""Celery tasks of the campaigns app, on the `mail` queue (crm.settings CELERY_TASK_ROUTES). Thin and
idempotent: ids as arguments; a batch run twice mails nobody twice (see services.sending)."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from crm.models import Order

from . import conf
from .services import (
    finish_campaign_if_done,
    queue_next_batches,
    record_purchases,
    send_recipient_batch,
    start_due_campaigns,
)
from .services.line_sending import LineTemporaryError, send_line_batch

logger = logging.getLogger(__name__)


@shared_task(name="campaigns.dispatch_campaign", acks_late=True)
def dispatch_campaign(campaign_id: int) -> int:
    """Start (or restart) the sending: queue the first window of batches; each batch queues the next."""
    queued = queue_next_batches(campaign_id=campaign_id, restart=True)
    if not queued:
        finish_campaign_if_done(campaign_id=campaign_id)
    logger.info("campaign dispatched campaign_pk=%d batches=%d", campaign_id, queued)
    return queued


@shared_task(
    name="campaigns.send_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    # SMTP connection lost or server down, database restarting, LINE rate-limited or failing: the unsent
    # rows are still pending.
    autoretry_for=(OSError, OperationalError, InterfaceError, LineTemporaryError),
    retry_backoff=True,
    max_retries=8,
)
def send_batch(campaign_id: int, recipient_ids: list[int]) -> int:
    mailed = send_recipient_batch(campaign_id=campaign_id, recipient_ids=recipient_ids)
    sent = mailed + send_line_batch(campaign_id=campaign_id, recipient_ids=recipient_ids)
    queue_next_batches(campaign_id=campaign_id)
    return sent


@shared_task(name="campaigns.start_due_campaigns")
def start_due() -> int:
    return start_due_campaigns()


@shared_task(name="campaigns.requeue_stalled_sends")
def requeue_stalled_sends() -> int:
    """Safety net for batches lost with their worker: a sending campaign that made no progress for a
    while gets its pending recipients queued again (claims make that harmless)."""
    from .selectors import stalled_campaign_ids
    from .services.pressure import in_quiet_hours

    if in_quiet_hours(timezone.now()):
        return 0  # nothing leaves now; the first run after the quiet hours dispatches them
    ids = stalled_campaign_ids(stalled_after=conf.stalled_after())
    for campaign_id in ids:
        dispatch_campaign.delay(campaign_id)
    return len(ids)


@shared_task(
    name="campaigns.record_purchases", acks_late=True, autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True, max_retries=8,
)  # fmt: skip
def record_order_purchases(order_id: int) -> int:
    """A committed order's products join its customer's purchase summary (idempotent: an upsert that
    keeps the later time). Queued after the sale commits, so the sale never waits for it."""
    order = Order.objects.filter(pk=order_id).first()
    return record_purchases(order=order) if order is not None else 0


@shared_task(name="campaigns.run_journeys", acks_late=True)
def run_journeys() -> int:
    """Every active journey: enter, stop at the goal, carry out due steps. Safe twice or concurrently."""
    from .services.journeys import run_active_journeys

    return run_active_journeys()


@shared_task(name="campaigns.reconcile_purchases")
def reconcile_purchases() -> int:
    """Hourly: the last hours' orders join the purchase summary again (repairs a lost record_purchases)."""
    from .services import reconcile_recent_purchases

    return reconcile_recent_purchases()
