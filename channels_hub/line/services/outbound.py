"""Messages from Tsunagu to a LINE user: agents' replies from the ticket page (reply API while the
customer's reply token is fresh, else the push API with a retry key, so a retried push is delivered
once) and the short answers of the account-link flow."""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from crm.models import Channel, ChannelIdentity

from ...models import Message, Ticket
from ..client import MAX_TEXT, LineApiError, LineConnector, connector_by_pk, retry_key
from ..models import LineDelivery, LineFollower, LineWebhookEvent

logger = logging.getLogger(__name__)

# LINE accepts a reply token for a short while after the event; leave a margin for the call itself.
REPLY_TOKEN_MAX_AGE = timedelta(seconds=50)


class LineDeliveryFailed(Exception):
    def __init__(self, reason: str, *, retryable: bool):
        self.reason = reason[:255]
        self.retryable = retryable
        super().__init__(self.reason)


def split_text(text: str) -> list[str]:
    """LINE takes at most 5,000 characters per text message and 5 messages per request."""
    return [text[i : i + MAX_TEXT] for i in range(0, len(text), MAX_TEXT)][:5] or [""]


def _claim_reply_token(event: LineWebhookEvent | None) -> str:
    """The event's reply token if it is fresh and unused; marks it used (a token works once)."""
    if event is None or not event.reply_token or event.received_at < timezone.now() - REPLY_TOKEN_MAX_AGE:
        return ""
    taken = LineWebhookEvent.objects.filter(pk=event.pk, reply_token_used=False).update(reply_token_used=True)
    return event.reply_token if taken else ""


def send_text(*, connector: LineConnector, line_user_id: str, text: str, reply_event=None) -> str:
    """A short message of the system to one user: by reply when possible, else by push. Returns
    the method used, or "" when LINE refused both (logged; the flow it belongs to says so itself)."""
    texts = split_text(text)
    token = _claim_reply_token(reply_event)
    if token:
        try:
            connector.reply(reply_token=token, texts=texts)
            return "reply"
        except LineApiError:
            pass  # the token expired or LINE failed: push instead
    try:
        connector.push(to=line_user_id, texts=texts, key=retry_key("system", line_user_id, text,
                                                                    str(getattr(reply_event, "pk", ""))))  # fmt: skip
    except LineApiError:
        return ""
    return "push"


def _target(ticket: Ticket) -> tuple[LineConnector, str, LineWebhookEvent | None] | None:
    """Where a reply on this ticket goes: the account and LINE user of the ticket's latest LINE
    message; without one, the customer's (or lead's) LINE account that follows an active account."""
    event = (
        LineWebhookEvent.objects.filter(message__ticket=ticket, kind="message").order_by("-occurred_at", "-pk").first()
    )
    if event is not None and (connector := connector_by_pk(event.account_id)):
        return connector, event.line_user_id, event
    user_ids = []
    if ticket.customer_id:
        user_ids = list(
            ChannelIdentity.objects.filter(customer_id=ticket.customer_id, channel=Channel.LINE).values_list(
                "external_id", flat=True
            )
        )
    elif ticket.lead_id and ticket.lead.channel == Channel.LINE:
        user_ids = [ticket.lead.external_id]
    for follower in LineFollower.objects.filter(
        Q(line_user_id__in=user_ids), follows=True, account__active=True
    ).order_by("-follow_changed_at"):
        if connector := connector_by_pk(follower.account_id):
            return connector, follower.line_user_id, None
    return None


def send_reply_on_line(message: Message) -> LineDelivery:
    """One delivery attempt of an agent's reply. Raises LineDeliveryFailed (retryable or not)."""
    delivery = LineDelivery.objects.filter(message=message).first()
    token = ""
    if delivery is None:  # the first attempt chooses the account and user; retries keep them
        target = _target(message.ticket)
        if target is None:
            raise LineDeliveryFailed("no LINE account to reply to", retryable=False)
        connector, line_user_id, event = target
        delivery = LineDelivery.objects.create(
            message=message, account_id=connector.pk, line_user_id=line_user_id, method=LineDelivery.Method.PUSH
        )
        token = _claim_reply_token(event)
    else:
        connector = connector_by_pk(delivery.account_id)
        if connector is None:
            raise LineDeliveryFailed("the LINE account is inactive", retryable=False)
    texts = split_text(message.body)
    try:
        if token:
            try:
                sent = connector.reply(reply_token=token, texts=texts)
                delivery.method = LineDelivery.Method.REPLY
            except LineApiError as exc:
                if exc.status != 400:
                    raise
                token = ""  # the reply token was no longer valid: push
        if not token:
            sent = connector.push(to=delivery.line_user_id, texts=texts, key=str(delivery.retry_key))
            delivery.method = LineDelivery.Method.PUSH
    except LineApiError as exc:
        raise LineDeliveryFailed(f"LINE {exc.status}: {exc.message}", retryable=exc.retryable) from exc
    delivery.request_id = sent.request_id
    delivery.save(update_fields=["method", "request_id"])
    logger.info("line reply sent message_id=%s method=%s", message.public_id, delivery.method)
    return delivery


def image_of_message(*, public_id: str) -> tuple[bytes, str]:
    """The content of an image message from LINE; LookupError when the message is not a LINE image or
    its account is gone. LineApiError when LINE does not have it (any more)."""
    message = Message.objects.filter(public_id=public_id, channel=Channel.LINE).first()
    image = next((a for a in (message.attachments if message else []) if a.get("type") == "line/image"), None)
    event = message.line_events.first() if image else None
    connector = connector_by_pk(event.account_id) if event else None
    if connector is None or not image.get("line_message_id"):
        raise LookupError("No LINE image with this id.")
    return connector.message_content(str(image["line_message_id"]))
