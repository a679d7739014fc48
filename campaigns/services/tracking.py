"""What recipients do with a mail: open, click, unsubscribe; and what the ESP reports: bounces and
complaints. Every entry point takes a signed token or a verified webhook event; an invalid token
changes nothing."""

import logging

from django.db import transaction
from django.utils import timezone

from channels_hub.line.services import opt_out_of_line_marketing
from crm.models import ConsentSource
from crm.selectors import get_customer
from crm.services import update_customer

from ..models import CampaignRecipient, MailEvent, Suppression
from ..rendering import campaign_links
from ..tokens import read_token

logger = logging.getLogger(__name__)


def recipient_for_token(purpose: str, token: str) -> tuple[CampaignRecipient | None, dict | None]:
    """The mailed recipient a token was made for, or (None, None)."""
    payload = read_token(purpose, token)
    if payload is None:
        return None, None
    recipient = (
        CampaignRecipient.objects.select_related("campaign", "customer")
        .filter(campaign__public_id=payload["c"], customer__public_id=payload["u"], state=CampaignRecipient.State.SENT)
        .first()
    )
    return recipient, payload if recipient else None


def record_open(*, recipient: CampaignRecipient) -> None:
    now = timezone.now()
    with transaction.atomic():
        MailEvent.objects.create(recipient=recipient, kind=MailEvent.Kind.OPEN)
        CampaignRecipient.objects.filter(pk=recipient.pk, opened_at__isnull=True).update(opened_at=now)


def click_target(*, recipient: CampaignRecipient, payload: dict) -> str | None:
    """The URL to redirect to, only if the campaign's own bodies contain it (no open redirect)."""
    url = payload.get("l")
    campaign = recipient.campaign
    if not isinstance(url, str) or url not in campaign_links(
        body_text=campaign.body_text, body_html=campaign.body_html
    ):
        return None
    return url


def record_click(*, recipient: CampaignRecipient, url: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        MailEvent.objects.create(recipient=recipient, kind=MailEvent.Kind.CLICK, url=url[:2000])
        CampaignRecipient.objects.filter(pk=recipient.pk, clicked_at__isnull=True).update(clicked_at=now)
        # A click proves the mail was opened even when images were blocked.
        CampaignRecipient.objects.filter(pk=recipient.pk, opened_at__isnull=True).update(opened_at=now)


def unsubscribe_recipient(*, recipient: CampaignRecipient) -> CampaignRecipient:
    """One-click unsubscribe: the address goes on the suppression list and the customer's email
    consent is withdrawn (source: unsubscribe link). From a LINE message, the LINE user opts out of
    the account's LINE campaigns instead (email consent is untouched). Repeating it changes nothing more."""
    now = timezone.now()
    line = recipient.channel == CampaignRecipient.Channel.LINE
    customer = None
    with transaction.atomic():
        if line:
            opt_out_of_line_marketing(
                account_id=recipient.campaign.line_account_id, line_user_id=recipient.line_user_id, at=now
            )
        elif recipient.email:
            Suppression.objects.get_or_create(
                email=recipient.email,
                defaults={"reason": Suppression.Reason.UNSUBSCRIBED, "campaign": recipient.campaign},
            )
        first = CampaignRecipient.objects.filter(pk=recipient.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=now
        )
        if first:
            MailEvent.objects.create(recipient=recipient, kind=MailEvent.Kind.UNSUBSCRIBE)
        if not line:
            customer = get_customer(recipient.customer.public_id)  # a merged customer: the survivor
            if customer is not None and customer.email_opt_in:
                update_customer(customer=customer, email_opt_in=False, consent_source=ConsentSource.UNSUBSCRIBE)
    logger.info(
        "campaign unsubscribe campaign_id=%s customer_id=%s channel=%s",
        recipient.campaign.public_id, (customer or recipient.customer).public_id, recipient.channel,
    )  # fmt: skip
    return recipient


ESP_KINDS = {
    "bounced": (Suppression.Reason.HARD_BOUNCE, MailEvent.Kind.BOUNCE),
    "complained": (Suppression.Reason.COMPLAINT, MailEvent.Kind.COMPLAINT),
    "unsubscribed": (Suppression.Reason.UNSUBSCRIBED, MailEvent.Kind.UNSUBSCRIBE),
}


def record_esp_event(*, event_type: str, email: str, message_id: str = "") -> Suppression | None:
    """A hard bounce, complaint or ESP-side unsubscribe: suppress the address; mark the recipient
    the Message-ID names. Other event types (delivered, deferred, ...) are ignored."""
    if event_type not in ESP_KINDS or not email:
        return None
    reason, kind = ESP_KINDS[event_type]
    email = email.strip().lower()
    with transaction.atomic():
        suppression, _created = Suppression.objects.get_or_create(email=email, defaults={"reason": reason})
        recipient = None
        if message_id:
            recipient = CampaignRecipient.objects.filter(message_id=message_id.strip()).first()
        if recipient is not None:
            MailEvent.objects.create(recipient=recipient, kind=kind)
            if kind == MailEvent.Kind.BOUNCE:
                CampaignRecipient.objects.filter(pk=recipient.pk, bounced_at__isnull=True).update(
                    bounced_at=timezone.now()
                )
            elif kind == MailEvent.Kind.UNSUBSCRIBE:
                CampaignRecipient.objects.filter(pk=recipient.pk, unsubscribed_at__isnull=True).update(
                    unsubscribed_at=timezone.now()
                )
    logger.info("campaign esp event kind=%s suppression_pk=%d", event_type, suppression.pk)
    return suppression
