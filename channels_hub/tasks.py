"""Celery tasks of the contact hub: thin, idempotent, ids as arguments."""

from celery import shared_task

from . import personal_data, services
from .services import outbound

RETRY_BASE_SECONDS = 30


@shared_task(bind=True, name="channels_hub.deliver_reply", max_retries=None)
def deliver_reply(self, message_id: int) -> str:
    """Send an agent's reply (mail or signed webhook); on a temporary failure try again with
    exponential backoff until HUB_WEBHOOK_MAX_ATTEMPTS is reached (then the message says failed)."""
    outcome = outbound.deliver_reply(message_id=message_id)
    if outcome == "retry" and not self.request.is_eager:
        raise self.retry(countdown=RETRY_BASE_SECONDS * 2**self.request.retries)
    return outcome


@shared_task(name="channels_hub.send_csat_survey")
def send_csat_survey(ticket_id: int) -> bool:
    return outbound.send_csat_survey(ticket_id=ticket_id)


@shared_task(name="channels_hub.send_contact_confirmation")
def send_contact_confirmation(message_id: int, email: str) -> None:
    outbound.send_contact_confirmation(message_id=message_id, email=email)


@shared_task(name="channels_hub.notify_mention")
def notify_mention(mention_id: int) -> None:
    outbound.notify_mention(mention_id=mention_id)


@shared_task(name="channels_hub.mark_sla_breaches")
def mark_sla_breaches() -> int:
    """Every few minutes (beat): flag tickets whose SLA just ran out."""
    return services.mark_sla_breaches()


@shared_task(name="channels_hub.purge_inactive_leads")
def purge_inactive_leads() -> int:
    """Daily (beat): empty leads nobody has heard from for HUB_LEAD_RETENTION_DAYS."""
    return personal_data.purge_inactive_leads()
