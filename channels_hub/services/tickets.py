"""What agents do with tickets: reply, note (with @mentions), change status/assignment, merge, link
a lead to a customer; plus CSAT answers, SLA breach marking and the customer-merge receiver."""

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Channel, Customer, User
from crm.services import create_customer

from ..conf import hub_setting
from ..models import ChannelEndpoint, CsatResponse, Lead, Mention, Message, Priority, Team, Ticket
from .sla import set_sla_due

logger = logging.getLogger(__name__)

CSAT_SALT = "channels_hub.csat"
_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")
# Channels a reply cannot be delivered on by the hub itself (the agent speaks to the customer).
_SPOKEN = {Channel.PHONE, Channel.STORE_CARD}


def lock_tickets(ids) -> list[Ticket]:
    """Row locks on tickets, always in primary-key order (no lock cycles between two merges)."""
    return list(Ticket.objects.filter(pk__in=ids).order_by("pk").select_for_update(of=("self",)))


def _check_body(body: str, field: str = "body") -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({field: [_("The message is empty.")]})
    if len(body) > hub_setting("HUB_MAX_BODY_CHARS"):
        raise ValidationError({field: [_("At most %(n)d characters.") % {"n": hub_setting("HUB_MAX_BODY_CHARS")}]})
    return body


# Channels that carry no reply of their own: a web form has no way back to the sender, and a phone
# call cannot be "sent". API.md: such replies go by email.
_NO_WAY_BACK = {Channel.WEB_FORM, Channel.PHONE}


def reply_channel(ticket: Ticket) -> str:
    """The channel the customer last wrote from (what "where the customer wrote" means)."""
    last_in = (
        ticket.messages.filter(direction=Message.Direction.IN).order_by("-sent_at", "-pk").values("channel").first()
    )
    return last_in["channel"] if last_in else ticket.first_channel


def can_carry_reply(channel: str) -> bool:
    """Whether the hub can deliver a reply on this channel: email and LINE always, other channels
    (chat, SNS) when an active outbound endpoint is configured."""
    if channel in (Channel.EMAIL, Channel.LINE):
        return True
    if channel in _NO_WAY_BACK or channel in _SPOKEN:
        return False
    return endpoint_for(channel) is not None


NO_WAY_TO_REACH = _(
    "This customer has no email address, so the reply cannot be delivered. Call them and log the call instead."
)


@dataclass(frozen=True)
class ReplyRoute:
    """Where a reply "where the customer wrote" really goes, and why (shown above the reply box)."""

    wrote_on: str
    channel: str
    by_email_instead: bool
    deliverable: bool


def reply_route(ticket: Ticket) -> ReplyRoute:
    wrote_on = reply_channel(ticket)
    if can_carry_reply(wrote_on):
        return ReplyRoute(wrote_on=wrote_on, channel=wrote_on, by_email_instead=False, deliverable=True)
    has_email = bool(survey_address(ticket))
    return ReplyRoute(wrote_on=wrote_on, channel=Channel.EMAIL, by_email_instead=True, deliverable=has_email)


def reply_to_ticket(*, ticket: Ticket, user: User, body: str, channel: str | None = None) -> Message:
    """An agent's answer to the customer. Email goes out by mail with threading headers; LINE through
    the LINE connector (channels_hub/line); chat, SNS… through the channel's signed webhook; all after
    commit, by Celery. Without a channel the reply goes where the customer wrote, or by email when
    that channel cannot carry it (web form, phone, a channel without an endpoint); a reply that could
    reach nobody is refused. Phone and counter replies chosen explicitly are a record of what was said."""
    body = _check_body(body)
    if channel:
        if channel not in Channel.values:
            raise ValidationError({"channel": [_("Unknown channel.")]})
        if channel == Channel.WEB_FORM:
            raise ValidationError({"channel": [_("A web form cannot carry a reply; send it by email.")]})
    else:
        route = reply_route(ticket)
        channel = route.channel
    if channel == Channel.EMAIL and not survey_address(ticket):
        raise ValidationError({"channel": [NO_WAY_TO_REACH]})
    now = timezone.now()
    with transaction.atomic():
        ticket = lock_tickets([ticket.pk])[0]
        if ticket.merged_into_id is not None:
            raise ValidationError({"ticket": [_("This ticket was merged into another one.")]})
        delivery = Message.Delivery.NONE if channel in _SPOKEN else Message.Delivery.PENDING
        message = Message.objects.create(
            ticket=ticket, channel=channel, direction=Message.Direction.OUT, author=Message.Author.AGENT,
            author_user=user, body=body, sent_at=now, delivery_status=delivery,
        )  # fmt: skip
        fields = ["last_message_at", "status"]
        ticket.last_message_at = max(ticket.last_message_at, now)
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            fields.append("first_response_at")
        if ticket.assignee_id is None:
            ticket.assignee = user
            fields.append("assignee")
        if ticket.status in (Ticket.Status.NEW, Ticket.Status.OPEN):
            ticket.status = Ticket.Status.PENDING
        ticket.save(update_fields=[*fields, "updated_at"])
        if delivery == Message.Delivery.PENDING:
            from ..tasks import deliver_reply

            transaction.on_commit(lambda: deliver_reply.delay(message.pk))
    logger.info("reply stored ticket_id=%s message_id=%s channel=%s", ticket.public_id, message.public_id, channel)
    return message


def retry_reply(*, message: Message, user: User, by_email: bool = False) -> Message:
    """Send a reply whose delivery failed once more, on its channel or (`by_email`) by email."""
    if by_email and not survey_address(message.ticket):
        raise ValidationError({"channel": [_("This customer has no email address.")]})
    with transaction.atomic():
        updated = Message.objects.filter(
            pk=message.pk, direction=Message.Direction.OUT, delivery_status=Message.Delivery.FAILED
        ).update(
            delivery_status=Message.Delivery.PENDING, delivery_attempts=0, delivery_error="",
            **({"channel": Channel.EMAIL} if by_email else {}),
        )  # fmt: skip
        if not updated:
            raise ValidationError({"message": [_("Only a reply whose delivery failed can be sent again.")]})
        from ..tasks import deliver_reply

        transaction.on_commit(lambda: deliver_reply.delay(message.pk))
    logger.info("reply retried message_id=%s by_email=%s actor_id=%s", message.public_id, by_email, user.pk)
    message.refresh_from_db()
    return message


def last_reply_failed(ticket: Ticket) -> bool:
    """Whether the agent's latest reply on this ticket never reached the customer."""
    status = (
        ticket.messages.filter(direction=Message.Direction.OUT, author=Message.Author.AGENT)
        .order_by("-sent_at", "-pk")
        .values_list("delivery_status", flat=True)
        .first()
    )
    return status == Message.Delivery.FAILED


def add_internal_note(*, ticket: Ticket, user: User, body: str) -> Message:
    """A note only staff see. `@` and a colleague's display name (or the part of their email before
    the @) mentions them: an in-app flag on their inbox and a mail."""
    body = _check_body(body)
    with transaction.atomic():
        ticket = lock_tickets([ticket.pk])[0]
        message = Message.objects.create(
            ticket=ticket, channel=ticket.first_channel, direction=Message.Direction.NOTE,
            author=Message.Author.AGENT, author_user=user, body=body, sent_at=timezone.now(),
        )  # fmt: skip
        mentioned = mentioned_users(body, exclude=user)
        mentions = Mention.objects.bulk_create([Mention(message=message, user=u) for u in mentioned])
        if mentions:
            from ..tasks import notify_mention

            ids = [m.pk for m in mentions]
            transaction.on_commit(lambda: [notify_mention.delay(pk) for pk in ids])
    return message


def _mention_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def mentioned_users(body: str, *, exclude: User | None = None) -> list[User]:
    """Colleagues named after an @: by display name (with or without its spaces, any width or case:
    `@鈴木 花子`, `@鈴木花子`) or by the part of their email before the @ (`@suzuki.k`)."""
    if "@" not in body:
        return []
    handles = {h.rstrip(".").lower() for h in _MENTION.findall(body)}
    # What follows each @, spaces removed, so that a display name written with or without its spaces
    # matches as a prefix.
    after_at = [_mention_key(part) for part in unicodedata.normalize("NFKC", body).split("@")[1:]]
    users = User.objects.filter(is_active=True).order_by("pk")
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    found = []
    for user in users.only("pk", "email", "display_name", "language"):
        local = user.email.split("@", 1)[0].lower()
        name = _mention_key(user.display_name)
        if local in handles or (name and any(text.startswith(name) for text in after_at)):
            found.append(user)
    return found


def mark_mentions_seen(*, user: User, ticket: Ticket) -> int:
    return Mention.objects.filter(user=user, message__ticket=ticket, seen_at__isnull=True).update(
        seen_at=timezone.now()
    )


_UNSET = object()


def update_ticket(
    *,
    ticket: Ticket,
    actor: User | None = None,
    status: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    tags: list[str] | None = None,
    team: object | Team | None = _UNSET,
    assignee: object | User | None = _UNSET,
) -> Ticket:
    """Change a ticket's status, priority, category, tags, team or assignee. Resolving sends the
    customer a CSAT survey link; a new priority recomputes the SLA resolution due time."""
    errors = {}
    if status is not None and status not in Ticket.Status.values:
        errors["status"] = [_("Unknown status.")]
    if priority is not None and priority not in Priority.values:
        errors["priority"] = [_("Unknown priority.")]
    if category is not None and len(category) > 64:
        errors["category"] = [_("At most %(n)d characters.") % {"n": 64}]
    if tags is not None and (len(tags) > 20 or any(len(t) > 50 for t in tags)):
        errors["tags"] = [_("At most 20 tags of 50 characters.")]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        ticket = lock_tickets([ticket.pk])[0]
        if ticket.merged_into_id is not None:
            raise ValidationError({"ticket": [_("This ticket was merged into another one.")]})
        fields = []
        resolved_now = False
        if status is not None and status != ticket.status:
            resolved_now = status == Ticket.Status.RESOLVED
            if status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
                ticket.resolved_at = ticket.resolved_at or now
            else:
                ticket.resolved_at = None
            ticket.status = status
            fields += ["status", "resolved_at"]
        if priority is not None and priority != ticket.priority:
            ticket.priority = priority
            set_sla_due(ticket, now=ticket.created_at)
            fields += ["priority", "first_response_due", "resolution_due"]
        if category is not None:
            ticket.category = category.strip()
            fields.append("category")
        if tags is not None:
            ticket.tags = sorted({t.strip() for t in tags if t.strip()})
            fields.append("tags")
        if team is not _UNSET:
            ticket.team = team
            fields.append("team")
        if assignee is not _UNSET:
            ticket.assignee = assignee
            fields.append("assignee")
        if fields:
            ticket.save(update_fields=[*fields, "updated_at"])
        # No survey about an answer the customer never received.
        if resolved_now and survey_address(ticket) and not last_reply_failed(ticket):
            from ..tasks import send_csat_survey

            transaction.on_commit(lambda: send_csat_survey.delay(ticket.pk))
    return ticket


def survey_address(ticket: Ticket) -> str:
    if ticket.customer_id:
        return Customer.objects.filter(pk=ticket.customer_id).values_list("email", flat=True).first() or ""
    if ticket.lead_id:
        return Lead.objects.filter(pk=ticket.lead_id).values_list("email", flat=True).first() or ""
    return ""


def merge_tickets(*, source: Ticket, target: Ticket, actor: User | None = None) -> Ticket:
    """Move every message of `source` into `target`; `source` is closed and points to `target`, so
    its id keeps leading to the conversation."""
    if source.pk == target.pk:
        raise ValidationError({"target": [_("A ticket cannot be merged into itself.")]})
    with transaction.atomic():
        locked = {t.pk: t for t in lock_tickets([source.pk, target.pk])}
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id or target.merged_into_id:
            raise ValidationError({"target": [_("One of these tickets has already been merged.")]})
        if source.customer_id and target.customer_id and source.customer_id != target.customer_id:
            raise ValidationError({"target": [_("These tickets belong to different customers.")]})
        Message.objects.filter(ticket=source).update(ticket=target)
        target.last_message_at = max(target.last_message_at, source.last_message_at)
        target.tags = sorted(set(target.tags) | set(source.tags))
        target.customer_id = target.customer_id or source.customer_id
        target.lead_id = target.lead_id or source.lead_id
        if target.first_response_at is None or (
            source.first_response_at and source.first_response_at < target.first_response_at
        ):
            target.first_response_at = source.first_response_at
        target.save(update_fields=["last_message_at", "tags", "customer", "lead", "first_response_at", "updated_at"])
        source.merged_into = target
        source.status = Ticket.Status.CLOSED
        source.resolved_at = source.resolved_at or timezone.now()
        source.save(update_fields=["merged_into", "status", "resolved_at", "updated_at"])
    logger.info("tickets merged source_id=%s target_id=%s", source.public_id, target.public_id)
    return target


def link_lead(*, lead: Lead, customer: Customer) -> Lead:
    """The unknown sender is this customer: the lead and its tickets now belong to them."""
    while customer.merged_into_id is not None:
        customer = Customer.objects.get(pk=customer.merged_into_id)
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.customer_id and lead.customer_id != customer.pk:
            raise ValidationError({"customer": [_("This lead is already linked to another customer.")]})
        lead.customer = customer
        lead.save(update_fields=["customer"])
        Ticket.objects.filter(lead=lead, customer__isnull=True).update(customer=customer, updated_at=timezone.now())
    logger.info("lead linked lead_id=%s customer_id=%s", lead.public_id, customer.public_id)
    return lead


def attach_leads(*, customer: Customer, email: str = "", phone: str = "", identities=()) -> int:
    """Receiver of crm's customer_identified: unknown senders with this email, phone or channel
    account are this customer now; their tickets follow. Returns how many leads were attached."""
    condition = Q()
    if email:
        condition |= Q(email=email)
    if phone:
        condition |= Q(phone=phone)
    for channel, external_id in identities:
        condition |= Q(channel=channel, external_id=external_id)
    if not condition:
        return 0
    leads = list(Lead.objects.filter(condition, customer__isnull=True).order_by("pk"))
    for lead in leads:
        link_lead(lead=lead, customer=customer)
    return len(leads)


def create_customer_from_lead(*, lead: Lead) -> Customer:
    if lead.customer_id:
        raise ValidationError({"lead": [_("This lead is already linked to a customer.")]})
    family, _sep, given = lead.name.partition(" ")
    with transaction.atomic():
        customer = create_customer(
            family_name=family[:50], given_name=given[:50], email=lead.email, phone=lead.phone,
            identities=[{"channel": lead.channel, "external_id": lead.external_id}] if lead.external_id else [],
        )  # fmt: skip
        link_lead(lead=lead, customer=customer)
    return customer


def move_customer_tickets(*, winner: Customer, loser: Customer, merge) -> None:
    """Receiver of crm's customers_merged: the loser's tickets and leads now belong to the winner."""
    merge.moved["tickets"] = Ticket.objects.filter(customer=loser).update(customer=winner)
    merge.moved["leads"] = Lead.objects.filter(customer=loser).update(customer=winner)


# --- CSAT ---------------------------------------------------------------------------------
def csat_token(ticket: Ticket) -> str:
    return signing.dumps({"t": ticket.public_id}, salt=CSAT_SALT, compress=True)


def ticket_for_csat_token(token: str) -> Ticket:
    """The ticket a survey link names; ValidationError for a forged, altered or expired link."""
    try:
        data = signing.loads(token, salt=CSAT_SALT, max_age=hub_setting("HUB_CSAT_MAX_AGE"))
    except signing.BadSignature as exc:  # SignatureExpired is a BadSignature
        raise ValidationError({"token": [_("This survey link is not valid or has expired.")]}) from exc
    ticket = Ticket.objects.filter(public_id=data.get("t", "")).first() if isinstance(data, dict) else None
    if ticket is None:
        raise ValidationError({"token": [_("This survey link is not valid or has expired.")]})
    return ticket


def record_csat(*, token: str, score, comment: str = "") -> CsatResponse:
    """One answer per ticket; a second one is refused and the first kept."""
    ticket = ticket_for_csat_token(token)
    errors = {}
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        errors["score"] = [_("Choose a score from 1 to 5.")]
    comment = (comment or "").strip()
    if len(comment) > 2000:
        errors["comment"] = [_("At most %(n)d characters.") % {"n": 2000}]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            response = CsatResponse.objects.create(ticket=ticket, score=score, comment=comment)
            Ticket.objects.filter(pk=ticket.pk).update(csat_score=score)
    except IntegrityError as exc:
        raise ValidationError({"token": [_("Thank you, we already have your answer for this contact.")]}) from exc
    logger.info("csat recorded ticket_id=%s score=%s", ticket.public_id, score)
    return response


# --- SLA --------------------------------------------------------------------------------------
def mark_sla_breaches(*, now: datetime | None = None) -> int:
    """Flag open tickets whose first response or resolution is overdue. Idempotent: a ticket is
    flagged once."""
    now = now or timezone.now()
    overdue = Q(resolution_due__lt=now) | Q(first_response_at__isnull=True, first_response_due__lt=now)
    count = Ticket.objects.filter(
        overdue, status__in=Ticket.OPEN_STATUSES, sla_breached_at__isnull=True, merged_into__isnull=True
    ).update(sla_breached_at=now)
    if count:
        logger.info("sla breaches marked count=%s", count)
    return count


def endpoint_for(channel: str) -> ChannelEndpoint | None:
    return ChannelEndpoint.objects.filter(channel=channel, active=True).first()


def site_url(path: str) -> str:
    return settings.TSUNAGU_BASE_URL.rstrip("/") + path
