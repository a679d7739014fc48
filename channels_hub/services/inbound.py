"""Every inbound contact, whatever the channel, goes through `receive_message`: identify the sender,
thread into the right ticket, store the message once."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Channel, Customer
from crm.normalize import normalize_email, normalize_phone
from crm.selectors import customers_by_contact, resolve_customer

from ..conf import hub_setting
from ..models import Lead, Message, Priority, Ticket
from .sla import apply_routing, contains_urgent_words, raise_priority, set_sla_due

logger = logging.getLogger(__name__)

MAX_SUBJECT = 200
MAX_EXTERNAL_ID = 255
MAX_NAME = 100
# API.md: a message dated more than this ahead of our clock is refused (it would otherwise capture
# every later contact of the sender through the threading window).
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Sender:
    email: str = ""
    phone: str = ""
    channel: str = ""
    external_id: str = ""
    name: str = ""

    @property
    def keys(self) -> list[str]:
        """Contact keys, most specific first; the first names a new lead."""
        keys = []
        if self.channel and self.external_id:
            keys.append(f"{self.channel}:{self.external_id}")
        if self.email:
            keys.append(f"email:{self.email}")
        if self.phone:
            keys.append(f"phone:{self.phone}")
        return keys


@dataclass(frozen=True)
class InboundItem:
    """One message of an inbound contact (a handoff brings several)."""

    body: str
    sent_at: datetime
    external_message_id: str = ""
    direction: str = Message.Direction.IN
    author: str = Message.Author.CUSTOMER
    attachments: tuple = ()
    email_message_id: str = ""


def clean_sender(raw: dict | None) -> Sender:
    """A sender needs an email, a phone, or a channel account; each is normalised. Errors name
    `sender.<field>`, or `sender` when nothing identifies the sender."""
    raw = raw or {}
    errors: dict[str, list] = {}
    email = phone = ""
    try:
        email = normalize_email(raw.get("email"))
    except ValidationError:
        errors["sender.email"] = [_("Enter a valid email address.")]
    try:
        phone = normalize_phone(raw.get("phone"))
    except ValidationError:
        errors["sender.phone"] = [_("Enter a valid phone number.")]
    channel = (raw.get("channel") or "").strip()
    external_id = (raw.get("external_id") or "").strip()
    if channel and channel not in Channel.values:
        errors["sender.channel"] = [_("Unknown channel.")]
    if len(external_id) > MAX_EXTERNAL_ID:
        errors["sender.external_id"] = [_("At most %(n)d characters.") % {"n": MAX_EXTERNAL_ID}]
    if bool(channel) != bool(external_id):
        errors["sender.external_id" if channel else "sender.channel"] = [
            _("A channel account needs both channel and external_id.")
        ]
    name = (raw.get("name") or "").strip()
    if len(name) > MAX_NAME:
        errors["sender.name"] = [_("At most %(n)d characters.") % {"n": MAX_NAME}]
    if not errors and not (email or phone or external_id):
        errors["sender"] = [_("Give the sender's email, phone, or channel and external_id.")]
    if errors:
        raise ValidationError(errors)
    return Sender(email=email, phone=phone, channel=channel, external_id=external_id, name=name)


def _check_item(item: InboundItem, prefix: str = "", *, time_field: str = "sent_at") -> None:
    errors = {}
    if item.sent_at > timezone.now() + MAX_CLOCK_SKEW:
        errors[f"{prefix}{time_field}"] = [_("This time lies in the future; send the time the message was written.")]
    body = item.body or ""
    if not body.strip():
        errors[f"{prefix}body"] = [_("The message is empty.")]
    elif len(body) > hub_setting("HUB_MAX_BODY_CHARS"):
        errors[f"{prefix}body"] = [_("At most %(n)d characters.") % {"n": hub_setting("HUB_MAX_BODY_CHARS")}]
    if len(item.external_message_id) > MAX_EXTERNAL_ID:
        errors[f"{prefix}external_message_id"] = [_("At most %(n)d characters.") % {"n": MAX_EXTERNAL_ID}]
    if len(item.attachments) > hub_setting("HUB_MAX_ATTACHMENTS"):
        errors[f"{prefix}attachments"] = [_("Too many attachments.")]
    if errors:
        raise ValidationError(errors)


def identify_sender(sender: Sender) -> Customer | None:
    """The known customer behind a sender: channel account first, then email, then phone."""
    customer = None
    if sender.channel and sender.external_id:
        customer = resolve_customer(channel=sender.channel, external_id=sender.external_id)
    if customer is None and sender.email:
        customer = customers_by_contact(email=sender.email).first()
    if customer is None and sender.phone:
        customer = customers_by_contact(phone=sender.phone).first()
    return customer


def _find_lead(sender: Sender) -> Lead | None:
    if sender.channel and sender.external_id:
        lead = Lead.objects.filter(channel=sender.channel, external_id=sender.external_id).order_by("pk").first()
        if lead:
            return lead
    if sender.email:
        lead = Lead.objects.filter(email=sender.email).order_by("pk").first()
        if lead:
            return lead
    if sender.phone:
        return Lead.objects.filter(phone=sender.phone).order_by("pk").first()
    return None


def _lock_sender(sender: Sender, customer: Customer | None) -> tuple[Customer | None, Lead | None]:
    """Serialise every message of one sender on one row, so that concurrent first messages thread
    into one ticket: the customer's row, or the lead's (created once thanks to its unique key)."""
    if customer is None:
        lead = _find_lead(sender)
        if lead is not None and lead.customer_id is not None:
            return _lock_customer(lead.customer), None
        if lead is None:
            lead, _created = Lead.objects.get_or_create(
                sender_key=sender.keys[0],
                defaults={
                    "name": sender.name,
                    "email": sender.email,
                    "phone": sender.phone,
                    "channel": sender.channel,
                    "external_id": sender.external_id,
                },
            )
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.customer_id is None:
            return None, lead
        customer = lead.customer
    return _lock_customer(customer), None


def _lock_customer(customer: Customer) -> Customer:
    while True:
        while customer.merged_into_id is not None:
            customer = Customer.objects.get(pk=customer.merged_into_id)
        # The lock is what matters; a merge that won the race shows in merged_into once we hold it.
        merged_into_id = (
            Customer.objects.select_for_update().filter(pk=customer.pk).values_list("merged_into_id", flat=True).get()
        )
        if merged_into_id is None:
            return customer
        customer.merged_into_id = merged_into_id


def _ticket_by_ref(thread_ref: str, in_reply_to: tuple[str, ...]) -> Ticket | None:
    ticket = None
    if thread_ref:
        ticket = Ticket.objects.filter(public_id=thread_ref).first()
    if ticket is None and in_reply_to:
        message = (
            Message.objects.filter(email_message_id__in=list(in_reply_to))
            .select_related("ticket")
            .order_by("-sent_at")
            .first()
        )
        ticket = message.ticket if message else None
    while ticket is not None and ticket.merged_into_id is not None:
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    if ticket is not None and ticket.status == Ticket.Status.CLOSED:
        return None  # a closed ticket stays closed: the reply opens a new one
    return ticket


def _open_ticket_in_window(*, customer, lead, sent_at: datetime) -> Ticket | None:
    owner = {"customer": customer} if customer is not None else {"lead": lead}
    since = sent_at - hub_setting("HUB_THREADING_WINDOW")
    return (
        Ticket.objects.filter(**owner, status__in=Ticket.OPEN_STATUSES, merged_into__isnull=True)
        .filter(last_message_at__gte=since)
        .order_by("-last_message_at", "-pk")
        .first()
    )


def _existing(channel: str, external_message_id: str) -> Message | None:
    # A narrow probe first: nearly every message is new, and the join is only needed for a replay.
    if not external_message_id:
        return None
    found = Message.objects.filter(channel=channel, external_message_id=external_message_id).values_list("pk")[:1]
    if not found:
        return None
    return Message.objects.select_related("ticket__customer", "ticket__lead").get(pk=found[0][0])


def receive_contact(
    *,
    channel: str,
    sender: Sender,
    items: list[InboundItem],
    subject: str = "",
    thread_ref: str = "",
    in_reply_to: tuple[str, ...] = (),
    customer: Customer | None = None,
    author_user=None,
    category: str = "",
    priority: str | None = None,
    new_ticket: bool = False,
) -> tuple[Message, bool]:
    """Store inbound messages from one sender in one ticket; returns the first message and whether
    anything was written. A replay (same channel and external_message_id) writes nothing and returns
    the message stored the first time. `customer` skips identification (staff logging a call)."""
    if channel not in Channel.values:
        raise ValidationError({"channel": [_("Unknown channel.")]})
    subject = (subject or "").strip()
    if len(subject) > MAX_SUBJECT:
        raise ValidationError({"subject": [_("At most %(n)d characters.") % {"n": MAX_SUBJECT}]})
    if not items:
        raise ValidationError({"body": [_("The message is empty.")]})
    for i, item in enumerate(items):
        transcript = len(items) > 1 or item.external_message_id.startswith("handoff:")
        _check_item(item, prefix=f"transcript.{i}." if transcript else "", time_field="at" if transcript else "sent_at")
    if customer is None and not sender.keys:
        raise ValidationError({"sender": [_("Give the sender's email, phone, or channel and external_id.")]})

    replay = _existing(channel, items[0].external_message_id)
    if replay is not None:
        return replay, False
    known = customer if customer is not None else identify_sender(sender)
    with transaction.atomic():
        locked_customer, lead = _lock_sender(sender, known)
        replay = _existing(channel, items[0].external_message_id)
        if replay is not None:
            return replay, False
        now = timezone.now()
        first_at = min(item.sent_at for item in items)
        ticket = None if new_ticket else _ticket_by_ref(thread_ref, in_reply_to)
        if ticket is None and not new_ticket:
            ticket = _open_ticket_in_window(customer=locked_customer, lead=lead, sent_at=first_at)
        created_ticket = ticket is None
        if created_ticket:
            ticket = _new_ticket(
                customer=locked_customer, lead=lead, channel=channel, subject=subject or items[0].body,
                text="\n".join(i.body for i in items), category=category, priority=priority, now=now, at=first_at,
            )  # fmt: skip
        messages = []
        try:
            with transaction.atomic():
                for item in items:
                    messages.append(
                        Message.objects.create(
                            ticket=ticket, channel=channel, direction=item.direction, author=item.author,
                            author_user=author_user, body=item.body, attachments=list(item.attachments),
                            external_message_id=item.external_message_id, email_message_id=item.email_message_id,
                            sent_at=item.sent_at,
                        )
                    )  # fmt: skip
        except IntegrityError:
            # The same external id arrived under another sender at the same moment: keep the first.
            replay = _existing(channel, items[0].external_message_id)
            if replay is None:
                raise
            if created_ticket:
                ticket.delete()
            return replay, False
        _touch_ticket(ticket, items=items, created=created_ticket)
        if not created_ticket and priority and raise_priority(ticket.priority, priority) != ticket.priority:
            ticket.priority = raise_priority(ticket.priority, priority)
            set_sla_due(ticket, now=ticket.created_at)
            ticket.save(update_fields=["priority", "first_response_due", "resolution_due", "updated_at"])
    logger.info(
        "inbound stored ticket_id=%s message_id=%s channel=%s new_ticket=%s",
        ticket.public_id, messages[0].public_id, channel, created_ticket,
    )  # fmt: skip
    return messages[0], True


def _new_ticket(*, customer, lead, channel, subject, text, category, priority, now, at) -> Ticket:
    ticket = Ticket(
        customer=customer, lead=lead, first_channel=channel, subject=subject.strip().splitlines()[0][:MAX_SUBJECT],
        category=category or "", last_message_at=at,
    )  # fmt: skip
    apply_routing(ticket, text=text, now=now)
    if priority:
        ticket.priority = raise_priority(ticket.priority, priority)
    set_sla_due(ticket, now=now)
    ticket.save()
    return ticket


def _touch_ticket(ticket: Ticket, *, items: list[InboundItem], created: bool) -> None:
    last = max(item.sent_at for item in items)
    fields = []
    if last > ticket.last_message_at:
        ticket.last_message_at = last
        fields.append("last_message_at")
    customer_wrote = any(i.direction == Message.Direction.IN for i in items)
    if not created and customer_wrote and ticket.status in (Ticket.Status.PENDING, Ticket.Status.RESOLVED):
        ticket.status = Ticket.Status.OPEN
        ticket.resolved_at = None
        fields += ["status", "resolved_at"]
    if fields:
        ticket.save(update_fields=[*fields, "updated_at"])


def receive_message(
    *,
    channel: str,
    sender: dict | Sender,
    body: str,
    sent_at: datetime | None = None,
    external_message_id: str = "",
    subject: str = "",
    thread_ref: str = "",
    in_reply_to: tuple[str, ...] = (),
    email_message_id: str = "",
    attachments: tuple = (),
    customer: Customer | None = None,
    author: str = Message.Author.CUSTOMER,
    author_user=None,
) -> tuple[Message, bool]:
    """One inbound message from any channel (API, email, web form, call log, counter note)."""
    if customer is None and not isinstance(sender, Sender):
        sender = clean_sender(sender)
    elif not isinstance(sender, Sender):
        sender = Sender()
    item = InboundItem(
        body=body or "", sent_at=sent_at or timezone.now(), external_message_id=external_message_id or "",
        author=author, attachments=tuple(attachments), email_message_id=email_message_id,
    )  # fmt: skip
    return receive_contact(
        channel=channel, sender=sender, items=[item], subject=subject, thread_ref=thread_ref,
        in_reply_to=tuple(in_reply_to), customer=customer, author_user=author_user,
    )  # fmt: skip


_ROLES = {
    "customer": (Message.Direction.IN, Message.Author.CUSTOMER),
    "user": (Message.Direction.IN, Message.Author.CUSTOMER),
    "bot": (Message.Direction.OUT, Message.Author.BOT),
    "assistant": (Message.Direction.OUT, Message.Author.BOT),
}
HANDOFF_ROLES = tuple(_ROLES)


def hand_off_conversation(
    *, conversation_id: str, sender: dict | Sender, transcript: list[dict], reason: str, channel: str = Channel.CHAT
) -> tuple[Ticket, bool]:
    """A chatbot hands a conversation to a person: the transcript, then the reason as an internal note,
    join the customer's open ticket (the same threading rule as any message, API.md), else open a
    new one. Priority goes up when the reason (or what the
    customer said) sounds like a complaint or urgent. The same conversation again returns its ticket."""
    conversation_id = (conversation_id or "").strip()
    if not conversation_id or len(conversation_id) > 200:
        raise ValidationError({"conversation_id": [_("Give the conversation id (at most 200 characters).")]})
    reason = (reason or "").strip()
    if len(reason) > 1000:
        raise ValidationError({"reason": [_("At most %(n)d characters.") % {"n": 1000}]})
    if not isinstance(sender, Sender):
        sender = clean_sender(sender)
    if not transcript:
        raise ValidationError({"transcript": [_("The transcript is empty.")]})
    items = []
    for i, line in enumerate(transcript):
        if line.get("role") not in _ROLES:
            raise ValidationError({f"transcript.{i}.role": [_("Unknown role.")]})
        direction, author = _ROLES[line["role"]]
        items.append(
            InboundItem(
                body=line["text"], sent_at=line["at"], external_message_id=f"handoff:{conversation_id}:{i}",
                direction=direction, author=author,
            )
        )  # fmt: skip
    if reason:
        items.append(
            InboundItem(
                body=str(_("Handed over by the chatbot: %(reason)s") % {"reason": reason}),
                sent_at=max(i.sent_at for i in items), external_message_id=f"handoff:{conversation_id}:reason",
                direction=Message.Direction.NOTE, author=Message.Author.BOT,
            )
        )  # fmt: skip
    customer_text = " ".join(i.body for i in items if i.author == Message.Author.CUSTOMER)
    urgent = contains_urgent_words(reason) or contains_urgent_words(customer_text)
    first_customer_line = next((i.body for i in items if i.author == Message.Author.CUSTOMER), items[0].body)
    message, created = receive_contact(
        channel=channel, sender=sender, items=items, subject=reason or first_customer_line,
        priority=Priority.HIGH if urgent else None,
    )  # fmt: skip

    return message.ticket, created


def new_external_id(prefix: str) -> str:
    """For channels that bring no id of their own (web form, call log, counter note)."""
    return f"{prefix}:{uuid.uuid4()}"
