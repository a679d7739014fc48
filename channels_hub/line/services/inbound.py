"""The webhook of a LINE official account, in two halves.

`receive_line_webhook` runs inside the request: it checks X-Line-Signature against the account's
channel secret, validates the body, stores each event once (unique per account and webhook event id,
so LINE's redeliveries write nothing) and queues the new ones after commit — LINE wants its 200
within seconds. `process_line_event` (a Celery task) does the work: messages into the hub's
`receive_message`, follow/unfollow as consent, postbacks kept, the account-link steps.
"""

import json
import logging
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Channel

from ...models import Message
from ...services.inbound import Sender, receive_message
from ..client import LineApiError, LineConnector, connector_by_pk, connector_for
from ..exceptions import InvalidLineSignature, LineAccountUnknown
from ..models import LineWebhookEvent
from .consent import follower, record_follow
from .linking import complete_account_link, start_account_link

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1_000_000
MAX_EVENTS = 500
MAX_CLOCK_SKEW = timedelta(minutes=5)
LINK_POSTBACK = "tsunagu:link"
State = LineWebhookEvent.State


def _event_time(raw) -> datetime | None:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        return None
    try:
        return datetime.fromtimestamp(raw / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _clean_events(body: bytes) -> list[dict]:
    """The events of a signed body, each checked; a ValidationError names the bad field."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError({"body": [_("The body is not JSON.")]}) from exc
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ValidationError({"events": [_("Expected a list of events.")]})
    events = data["events"]
    if len(events) > MAX_EVENTS:
        raise ValidationError({"events": [_("At most %(n)d events.") % {"n": MAX_EVENTS}]})
    cleaned = []
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise ValidationError({f"events.{i}": [_("Expected an object.")]})
        event_id, kind = event.get("webhookEventId"), event.get("type")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 64:
            raise ValidationError({f"events.{i}.webhookEventId": [_("Expected the event id (1–64 characters).")]})
        if not isinstance(kind, str) or not 1 <= len(kind) <= 32:
            raise ValidationError({f"events.{i}.type": [_("Expected the event type.")]})
        at = _event_time(event.get("timestamp"))
        if at is None:
            raise ValidationError({f"events.{i}.timestamp": [_("Expected milliseconds since 1970.")]})
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        user = source.get("userId") or ""
        if not isinstance(user, str) or len(user) > 64:
            raise ValidationError({f"events.{i}.source.userId": [_("At most %(n)d characters.") % {"n": 64}]})
        token = event.get("replyToken") or ""
        if not isinstance(token, str) or len(token) > 255:
            raise ValidationError({f"events.{i}.replyToken": [_("At most %(n)d characters.") % {"n": 255}]})
        context = event.get("deliveryContext") if isinstance(event.get("deliveryContext"), dict) else {}
        if at > timezone.now() + MAX_CLOCK_SKEW:
            at = timezone.now()  # a clock far ahead would otherwise win every later follow/unfollow
        cleaned.append({
            "id": event_id, "kind": kind, "at": at, "user": user, "reply_token": token,
            "redelivery": bool(context.get("isRedelivery")), "group": source.get("type") not in (None, "user"),
            "raw": event,
        })  # fmt: skip
    return cleaned


def receive_line_webhook(*, name: str, body: bytes, signature: str) -> list[int]:
    """Verify and store one webhook delivery; returns the pks of the events seen for the first time
    (already queued for processing after commit). Raises LineAccountUnknown (404),
    InvalidLineSignature (401) or ValidationError (400) and then writes nothing."""
    connector = connector_for(name)
    if connector is None:
        raise LineAccountUnknown()
    if not connector.signature_is_valid(body, signature):
        logger.warning("line webhook bad signature account=%s", name)
        raise InvalidLineSignature()
    events = _clean_events(body)
    new = []
    with transaction.atomic():
        for event in events:
            try:
                with transaction.atomic():
                    row = LineWebhookEvent.objects.create(
                        account_id=connector.pk, webhook_event_id=event["id"], kind=event["kind"],
                        line_user_id=event["user"], occurred_at=event["at"], redelivery=event["redelivery"],
                        reply_token=event["reply_token"], payload=event["raw"],
                        state=State.IGNORED if event["group"] else State.PENDING,
                    )  # fmt: skip
            except IntegrityError:
                continue  # LINE redelivered an event we have
            if row.state == State.PENDING:
                new.append(row.pk)
        if new:
            from ..tasks import process_line_event as task

            # robust: a failure to queue (or, with eager Celery, to process) never turns LINE's 200 into a 500;
            # the event stays pending in the table and is logged.
            for pk in new:
                transaction.on_commit(lambda pk=pk: task.delay(pk), robust=True)
    logger.info("line webhook account=%s events=%d new=%d", name, len(events), len(new))
    return new


def process_line_event(*, event_pk: int) -> str:
    """Do what one stored event asks; idempotent (a processed event is skipped). Returns its state."""
    event = LineWebhookEvent.objects.filter(pk=event_pk, state=State.PENDING).first()
    if event is None:
        return "skip"
    connector = connector_by_pk(event.account_id)
    if connector is None:
        _done(event, State.FAILED, error="account inactive")
        return State.FAILED
    handler = _HANDLERS.get(event.kind)
    if handler is None or not event.line_user_id:
        _done(event, State.IGNORED)
        return State.IGNORED
    state = handler(event, connector)
    logger.info("line event processed event_pk=%d kind=%s state=%s", event.pk, event.kind, state)
    return state


def _done(event: LineWebhookEvent, state: str, *, error: str = "", **fields) -> None:
    LineWebhookEvent.objects.filter(pk=event.pk).update(
        state=state, error=error[:255], processed_at=timezone.now(), **fields
    )


def _known_name(event: LineWebhookEvent, connector: LineConnector) -> str:
    """The user's LINE display name, asked of LINE once per account and user. LINE shows a profile only
    to an account the user has added as a friend: for a user whose follow we never saw (a friend from
    before the account was connected to Tsunagu), a profile is that follow."""
    row = follower(account_id=connector.pk, line_user_id=event.line_user_id)
    if row.display_name and row.follow_changed_at is not None:
        return row.display_name
    try:
        name = connector.display_name(event.line_user_id)
    except LineApiError:
        return row.display_name
    if name and name != row.display_name:
        type(row).objects.filter(pk=row.pk).update(display_name=name)
    if row.follow_changed_at is None:
        record_follow(account_id=connector.pk, line_user_id=event.line_user_id, follows=True, at=event.occurred_at)
    return name


def _content(message: dict) -> tuple[str, list[dict]]:
    kind = message.get("type")
    if kind == "text":
        return str(message.get("text") or ""), []
    if kind == "sticker":
        sticker = {"name": _("LINE sticker"), "type": "line/sticker", "size": 0,
                   "package_id": str(message.get("packageId", ""))[:32],
                   "sticker_id": str(message.get("stickerId", ""))[:32]}  # fmt: skip
        return _("(sticker)"), [sticker]
    if kind == "image":
        image = {"name": _("LINE image"), "type": "line/image", "size": 0, "line_message_id": str(message.get("id"))}
        return _("(image)"), [image]
    return _("(%(type)s message)") % {"type": str(kind)[:20]}, [{"name": str(kind)[:20], "type": f"line/{kind}"[:40],
                                                               "size": 0}]  # fmt: skip


def _on_message(event: LineWebhookEvent, connector: LineConnector) -> str:
    message = event.payload.get("message") if isinstance(event.payload.get("message"), dict) else {}
    message_id = str(message.get("id") or "")[:255]
    if not message_id:
        _done(event, State.IGNORED, error="message without id")
        return State.IGNORED
    if message.get("type") == "text" and (message.get("text") or "").strip() == connector.link_keyword:
        return _on_link_request(event, connector)
    body, attachments = _content(message)
    try:
        stored, _created = receive_message(
            channel=Channel.LINE,
            sender=Sender(channel=Channel.LINE, external_id=event.line_user_id, name=_known_name(event, connector)),
            body=body, sent_at=event.occurred_at, external_message_id=message_id, attachments=tuple(attachments),
        )  # fmt: skip
    except ValidationError as exc:
        _done(event, State.FAILED, error="; ".join(exc.messages))
        return State.FAILED
    # The hub holds the message now: keep only what identifies it here.
    _done(event, State.PROCESSED, message=stored, payload={"type": "message", "message": {"id": message_id}})
    return State.PROCESSED


def _on_follow(event: LineWebhookEvent, connector: LineConnector) -> str:
    _known_name(event, connector)
    record_follow(account_id=connector.pk, line_user_id=event.line_user_id, follows=True, at=event.occurred_at)
    _done(event, State.PROCESSED)
    return State.PROCESSED


def _on_unfollow(event: LineWebhookEvent, connector: LineConnector) -> str:
    record_follow(account_id=connector.pk, line_user_id=event.line_user_id, follows=False, at=event.occurred_at)
    _done(event, State.PROCESSED)
    return State.PROCESSED


def _on_postback(event: LineWebhookEvent, connector: LineConnector) -> str:
    postback = event.payload.get("postback") if isinstance(event.payload.get("postback"), dict) else {}
    if postback.get("data") == LINK_POSTBACK:
        return _on_link_request(event, connector)
    _done(event, State.PROCESSED)  # kept as it came (payload), for the integrations that read it
    return State.PROCESSED


def _on_link_request(event: LineWebhookEvent, connector: LineConnector) -> str:
    try:
        start_account_link(connector=connector, line_user_id=event.line_user_id, reply_event=event)
    except LineApiError as exc:
        _done(event, State.FAILED, error=f"LINE {exc.status}: {exc.message}")
        return State.FAILED
    _done(event, State.PROCESSED)
    return State.PROCESSED


def _on_account_link(event: LineWebhookEvent, connector: LineConnector) -> str:
    link = event.payload.get("link") if isinstance(event.payload.get("link"), dict) else {}
    outcome = complete_account_link(
        connector=connector, line_user_id=event.line_user_id, result=str(link.get("result", "")),
        nonce=str(link.get("nonce", ""))[:255], reply_event=event,
    )  # fmt: skip
    _done(
        event, State.PROCESSED if outcome == "linked" else State.IGNORED, error="" if outcome == "linked" else outcome
    )
    return State.PROCESSED if outcome == "linked" else State.IGNORED


def _on_unsend(event: LineWebhookEvent, connector: LineConnector) -> str:
    """The user took a message back: LINE asks services to stop showing it. Staff see that it was unsent."""
    unsend = event.payload.get("unsend") if isinstance(event.payload.get("unsend"), dict) else {}
    message_id = str(unsend.get("messageId") or "")[:255]
    hidden = 0
    if message_id:
        hidden = Message.objects.filter(
            channel=Channel.LINE, external_message_id=message_id, line_events__line_user_id=event.line_user_id
        ).update(body=_("(unsent by the customer)"), attachments=[])
    _done(event, State.PROCESSED if hidden else State.IGNORED)
    return State.PROCESSED if hidden else State.IGNORED


_HANDLERS = {
    "message": _on_message,
    "follow": _on_follow,
    "unfollow": _on_unfollow,
    "postback": _on_postback,
    "accountLink": _on_account_link,
    "unsend": _on_unsend,
}


def stalled_line_events(*, now=None, after=timedelta(minutes=5), limit: int = 1000) -> list[int]:
    """Events still pending some minutes after they arrived (at most a day back)."""
    now = now or timezone.now()
    return list(
        LineWebhookEvent.objects.filter(
            state=State.PENDING, received_at__lt=now - after, received_at__gt=now - timedelta(days=1)
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
