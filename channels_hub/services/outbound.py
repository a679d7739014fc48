"""Delivering agents' replies and the hub's own mails. Called by Celery tasks with ids; each call
is one attempt and records the outcome on the message, so a retried task never sends twice what
was already sent."""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from email.utils import make_msgid

from django.core.mail import EmailMessage, send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from crm.mail import with_sender_footer
from crm.models import Channel

from ..conf import hub_setting
from ..models import Mention, Message, Ticket
from .tickets import csat_token, endpoint_for, last_reply_failed, site_url, survey_address

logger = logging.getLogger(__name__)


def sign_body(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, secret: str, header: str) -> bool:
    return hmac.compare_digest(sign_body(body, secret), (header or "").strip())


def _claim(message_id: int) -> Message | None:
    """The reply if it still waits for delivery; counts the attempt."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("ticket__customer", "ticket__lead", "author_user")
            .filter(pk=message_id, delivery_status=Message.Delivery.PENDING)
            .first()
        )
        if message is None:
            return None
        Message.objects.filter(pk=message.pk).update(delivery_attempts=F("delivery_attempts") + 1)
        message.delivery_attempts += 1
    return message


def _finish(message: Message, *, status: str, error: str = "", **extra) -> None:
    Message.objects.filter(pk=message.pk, delivery_status=Message.Delivery.PENDING).update(
        delivery_status=status, delivery_error=error[:255], **extra
    )


def deliver_reply(*, message_id: int) -> str:
    """One delivery attempt. Returns "sent", "failed" (final), "retry" (try again later) or "skip"
    (already delivered or not pending)."""
    message = _claim(message_id)
    if message is None:
        return "skip"
    if message.channel == "email":
        return _send_email_reply(message)
    if message.channel == Channel.LINE:
        return _send_line_reply(message)
    return _post_webhook(message)


def _send_line_reply(message: Message) -> str:
    """LINE replies go through the LINE connector (reply or push API), not the signed webhook."""
    from ..line.services import LineDeliveryFailed, send_reply_on_line

    try:
        send_reply_on_line(message)
    except LineDeliveryFailed as exc:
        if exc.retryable:
            return _retry_or_fail(message, exc.reason)
        _finish(message, status=Message.Delivery.FAILED, error=exc.reason)
        return "failed"
    _finish(message, status=Message.Delivery.SENT)
    return "sent"


def _email_thread_ids(ticket: Ticket) -> list[str]:
    return list(
        ticket.messages.exclude(email_message_id="")
        .exclude(direction=Message.Direction.NOTE)
        .order_by("sent_at", "pk")
        .values_list("email_message_id", flat=True)
    )


def _send_email_reply(message: Message) -> str:
    ticket = message.ticket
    to = survey_address(ticket)
    if not to:
        _finish(message, status=Message.Delivery.FAILED, error="no email address")
        return "failed"
    thread = _email_thread_ids(ticket)
    message_id = make_msgid(domain=hub_setting("HUB_MESSAGE_ID_DOMAIN"))
    subject = ticket.subject or ticket.public_id
    headers = {"Message-ID": message_id}
    if thread:
        headers["In-Reply-To"] = f"<{thread[-1]}>"
        headers["References"] = " ".join(f"<{m}>" for m in thread[-20:])
    mail = EmailMessage(
        subject=f"Re: {subject} [{ticket.public_id}]",
        body=message.body,
        from_email=hub_setting("HUB_REPLY_FROM_EMAIL"),
        to=[to],
        reply_to=[hub_setting("HUB_REPLY_TO_TEMPLATE").format(ref=ticket.public_id)],
        headers=headers,
    )
    try:
        mail.send()
    except OSError as exc:
        logger.warning("reply mail failed message_id=%s error=%s", message.public_id, type(exc).__name__)
        return _retry_or_fail(message, str(exc))
    _finish(message, status=Message.Delivery.SENT, email_message_id=message_id.strip("<>"))
    logger.info("reply mailed message_id=%s ticket_id=%s", message.public_id, ticket.public_id)
    return "sent"


def _retry_or_fail(message: Message, error: str) -> str:
    if message.delivery_attempts >= hub_setting("HUB_WEBHOOK_MAX_ATTEMPTS"):
        _finish(message, status=Message.Delivery.FAILED, error=error)
        return "failed"
    Message.objects.filter(pk=message.pk).update(delivery_error=error[:255])
    return "retry"


def webhook_payload(message: Message) -> bytes:
    ticket = message.ticket
    lead = ticket.lead
    payload = {
        "message": message.public_id,
        "ticket": ticket.public_id,
        "channel": message.channel,
        "customer": ticket.customer.public_id if ticket.customer else None,
        "recipient": {
            "external_id": lead.external_id if lead and lead.channel == message.channel else None,
            "identities": [
                i.external_id for i in ticket.customer.identities.filter(channel=message.channel)
            ] if ticket.customer else [],
        },
        "body": message.body,
        "sent_at": message.sent_at.isoformat(),
    }  # fmt: skip
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _post_webhook(message: Message) -> str:
    endpoint = endpoint_for(message.channel)
    if endpoint is None:
        _finish(message, status=Message.Delivery.FAILED, error="no outbound endpoint for this channel")
        return "failed"
    body = webhook_payload(message)
    request = urllib.request.Request(  # noqa: S310  the admin form only accepts http(s) URLs
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Tsunagu-Signature": sign_body(body, endpoint.secret),
            "X-Tsunagu-Message": message.public_id,  # receivers deduplicate retries on this
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=hub_setting("HUB_WEBHOOK_TIMEOUT")) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("webhook failed message_id=%s error=%s", message.public_id, type(exc).__name__)
        return _retry_or_fail(message, f"connection: {type(exc).__name__}")
    if 200 <= status < 300:
        _finish(message, status=Message.Delivery.SENT)
        return "sent"
    if 400 <= status < 500 and status not in (408, 429):
        _finish(message, status=Message.Delivery.FAILED, error=f"HTTP {status}")
        return "failed"
    return _retry_or_fail(message, f"HTTP {status}")


def send_csat_survey(*, ticket_id: int) -> bool:
    ticket = Ticket.objects.filter(pk=ticket_id, status=Ticket.Status.RESOLVED, csat__isnull=True).first()
    to = survey_address(ticket) if ticket else ""
    if not to or last_reply_failed(ticket):
        return False
    url = site_url(reverse("channels_hub_public:survey", args=[csat_token(ticket)]))
    with translation.override("ja"):
        body = with_sender_footer(
            render_to_string("channels_hub/email/csat.txt", {"ticket": ticket, "url": url}), customer=ticket.customer
        )
        send_mail(_("How did we do? [%(ref)s]") % {"ref": ticket.public_id}, body, None, [to])
    logger.info("csat survey mailed ticket_id=%s", ticket.public_id)
    return True


def send_contact_confirmation(*, message_id: int, email: str) -> None:
    message = Message.objects.select_related("ticket").get(pk=message_id)
    with translation.override("ja"):
        body = with_sender_footer(
            render_to_string("channels_hub/email/contact_confirmation.txt", {"message": message}),
            customer=message.ticket.customer,
        )
        send_mail(_("We received your enquiry [%(ref)s]") % {"ref": message.ticket.public_id}, body, None, [email])


def notify_mention(*, mention_id: int) -> None:
    mention = Mention.objects.select_related("message__ticket", "message__author_user", "user").get(pk=mention_id)
    url = site_url(reverse("channels_hub:ticket", args=[mention.message.ticket.public_id]))
    with translation.override(mention.user.language or "ja"):
        body = render_to_string("channels_hub/email/mention.txt", {"mention": mention, "url": url})
        send_mail(_("You were mentioned on %(ref)s") % {"ref": mention.message.ticket.public_id}, body, None,
                  [mention.user.email])  # fmt: skip
