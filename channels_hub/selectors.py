"""Reads of the contact hub that pages, endpoints and other apps reuse."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from crm.models import Customer
from crm.normalize import parse_phone
from crm.registry import TimelineEntry
from crm.selectors import customers_by_contact

from .models import CannedReply, Lead, Mention, Message, Ticket

QUEUES = ("mine", "team", "unassigned", "overdue", "mentions", "all")


def open_tickets() -> QuerySet[Ticket]:
    return Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES, merged_into__isnull=True)


def overdue_condition(now=None) -> Q:
    now = now or timezone.now()
    return Q(resolution_due__lt=now) | Q(first_response_at__isnull=True, first_response_due__lt=now)


@dataclass(frozen=True)
class InboxFilters:
    queue: str = "mine"
    status: str = ""
    channel: str = ""
    priority: str = ""
    q: str = ""


def inbox(*, user, filters: InboxFilters) -> QuerySet[Ticket]:
    """The tickets of one inbox queue, newest activity first. Without a status filter a queue holds
    open tickets only (new, open, pending); each queue is one index range scan."""
    qs = Ticket.objects.filter(merged_into__isnull=True)
    qs = qs.filter(status=filters.status) if filters.status else qs.filter(status__in=Ticket.OPEN_STATUSES)
    if filters.queue == "mine":
        qs = qs.filter(assignee=user)
    elif filters.queue == "team":
        qs = qs.filter(team__in=user.hub_teams.values("pk"))
    elif filters.queue == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif filters.queue == "overdue":
        qs = qs.filter(overdue_condition())
    elif filters.queue == "mentions":
        qs = qs.filter(pk__in=Mention.objects.filter(user=user, seen_at__isnull=True).values("message__ticket_id"))
    if filters.channel:
        qs = qs.filter(first_channel=filters.channel)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    if filters.q:
        text = filters.q.strip()
        condition = Q(subject__icontains=text) | Q(public_id=text)
        if "@" in text:
            condition |= Q(customer__email=text.lower()) | Q(lead__email=text.lower())
        phone = parse_phone(text)
        if phone:
            condition |= Q(customer__phone=phone) | Q(lead__phone=phone)
        if text.isdigit():
            condition |= Q(customer__member_number=text)
        qs = qs.filter(condition)
    # A reply that never reached the customer is flagged in the list, not only on the ticket.
    failed = Message.objects.filter(
        ticket=OuterRef("pk"), direction=Message.Direction.OUT, delivery_status=Message.Delivery.FAILED
    )
    return (
        qs.select_related("customer", "lead", "assignee", "team")
        .annotate(has_failed_reply=Exists(failed))
        .order_by("-last_message_at", "-pk")
    )


def unseen_mention_count(user) -> int:
    return Mention.objects.filter(user=user, seen_at__isnull=True).count()


def ticket_detail(public_id: str) -> Ticket | None:
    return (
        Ticket.objects.select_related("customer", "lead", "lead__customer", "assignee", "team", "merged_into")
        .prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("author_user").order_by("sent_at", "pk"))
        )
        .filter(public_id=public_id)
        .first()
    )


def canned_replies(user) -> QuerySet[CannedReply]:
    return (
        CannedReply.objects.filter(active=True)
        .filter(Q(team__isnull=True) | Q(team__in=user.hub_teams.values("pk")))
        .order_by("title")
    )


def customer_tickets(*, customer: Customer, limit: int = 10) -> list[Ticket]:
    return list(
        Ticket.objects.filter(customer=customer, merged_into__isnull=True)
        .select_related("assignee")
        .annotate(message_count=Count("messages"))
        .order_by("-last_message_at")[:limit]
    )


def caller_lookup(*, phone: str) -> tuple[list[Customer], list[Ticket], Lead | None]:
    """Screen-pop for an incoming call: the customers with this number and their open tickets (or
    the lead, for an unknown caller who contacted us before)."""
    customers = list(customers_by_contact(phone=phone)[:5])
    if customers:
        tickets = list(
            open_tickets().filter(customer__in=customers).select_related("customer").order_by("-last_message_at")[:20]
        )
        return customers, tickets, None
    lead = Lead.objects.filter(phone=phone, customer__isnull=True).order_by("pk").first()
    tickets = list(open_tickets().filter(lead=lead).order_by("-last_message_at")[:20]) if lead else []
    return [], tickets, lead


def ticket_timeline(*, customer: Customer, limit: int, before=None) -> list[TimelineEntry]:
    """Timeline source: the customer's tickets (by latest activity) and their messages, notes aside."""
    messages = Message.objects.filter(ticket__customer=customer).exclude(direction=Message.Direction.NOTE)
    if before is not None:
        messages = messages.filter(sent_at__lt=before)
    return [
        TimelineEntry(
            at=m.sent_at, kind="message", id=m.public_id, channel=m.channel,
            title=f"{m.ticket.public_id} {m.get_direction_display()}: {m.body[:80]}",
            detail={"ticket": m.ticket.public_id, "direction": m.direction, "status": m.ticket.status},
        )
        for m in messages.select_related("ticket").order_by("-sent_at")[:limit]
    ]  # fmt: skip
