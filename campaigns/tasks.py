"""Celery tasks of the campaigns app, on the `mail` queue (crm.settings CELERY_TASK_ROUTES). Thin and
idempotent: ids as arguments; a batch run twice mails nobody twice (see services.sending)."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import conf
from .models import Campaign, CampaignRecipient
from .services import send_recipient_batch, start_due_campaigns
from .services.line_sending import LineTemporaryError, send_line_batch

logger = logging.getLogger(__name__)


@shared_task(name="campaigns.dispatch_campaign", acks_late=True)
def dispatch_campaign(campaign_id: int) -> int:
    """Queue one task per batch of pending recipients, spaced by the campaign's throttle."""
    from .services.sending import effective_throttle

    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).first()
    if campaign is None:
        return 0
    ids = list(
        CampaignRecipient.objects.filter(campaign_id=campaign_id, state=CampaignRecipient.State.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    size, rate = conf.batch_size(), effective_throttle(campaign)
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    for n, batch in enumerate(batches):
        countdown = n * size / rate if rate else 0
        send_batch.apply_async(args=[campaign_id, batch], countdown=countdown)
    if not batches:
        from .services import finish_campaign_if_done

        finish_campaign_if_done(campaign_id=campaign_id)
    logger.info("campaign dispatched campaign_pk=%d batches=%d", campaign_id, len(batches))
    return len(batches)


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
    return mailed + send_line_batch(campaign_id=campaign_id, recipient_ids=recipient_ids)


@shared_task(name="campaigns.start_due_campaigns")
def start_due() -> int:
    return start_due_campaigns()


@shared_task(name="campaigns.requeue_stalled_sends")
def requeue_stalled_sends() -> int:
    """Safety net for batches lost with their worker: a sending campaign that made no progress for a
    while gets its pending recipients queued again (claims make that harmless)."""
    from .selectors import stalled_campaign_ids

    ids = stalled_campaign_ids(stalled_after=conf.stalled_after())
    for campaign_id in ids:
        dispatch_campaign.delay(campaign_id)
    return len(ids)
