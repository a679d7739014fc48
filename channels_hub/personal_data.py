"""The contact hub's part of a person's export and erasure (APPI), and the purge of leads nobody has
heard from for HUB_LEAD_RETENTION_DAYS (data minimisation).

The person's leads are those linked to them and those still unlinked that wrote from one of their
email addresses or phones; their tickets are the customer's and those leads'. Erasure keeps tickets
and messages as rows (resolution and response-time reports still count them) and empties what a
person wrote or was told: subjects, bodies, attachments, CSAT comments, internal notes about them.
LINE's own part is channels_hub/line/personal_data.py."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from crm import registry

from .conf import hub_setting
from .models import CsatResponse, Lead, Message, Ticket

log = logging.getLogger(__name__)
ERASED_BODY = "(erased)"


def person_leads(person) -> QuerySet[Lead]:
    condition = Q(customer_id__in=person.customer_ids)
    if person.emails:
        condition |= Q(customer__isnull=True, email__in=person.emails)
    if person.phones:
        condition |= Q(customer__isnull=True, phone__in=person.phones)
    return Lead.objects.filter(condition)


def person_tickets(person) -> QuerySet[Ticket]:
    return Ticket.objects.filter(Q(customer_id__in=person.customer_ids) | Q(lead__in=person_leads(person)))


def export_hub(person) -> dict:
    leads = person_leads(person).order_by("pk")
    tickets = person_tickets(person).order_by("created_at", "pk").prefetch_related("messages")
    csat = {c.ticket_id: c for c in CsatResponse.objects.filter(ticket__in=person_tickets(person))}
    return {
        "leads": [
            {"id": lead.public_id, "name": lead.name, "email": lead.email, "phone": lead.phone,
             "channel": lead.channel, "external_id": lead.external_id, "created_at": lead.created_at}
            for lead in leads
        ],
        "tickets": [
            {
                "id": t.public_id, "subject": t.subject, "status": t.status, "category": t.category,
                "first_channel": t.first_channel, "created_at": t.created_at, "resolved_at": t.resolved_at,
                "csat": None if t.pk not in csat else {"score": csat[t.pk].score, "comment": csat[t.pk].comment},
                "messages": [
                    {"id": m.public_id, "channel": m.channel, "direction": m.direction, "author": m.author,
                     "body": m.body, "attachments": m.attachments, "sent_at": m.sent_at}
                    for m in sorted(t.messages.all(), key=lambda m: (m.sent_at, m.pk))
                ],
            }
            for t in tickets
        ],
    }  # fmt: skip


def anonymise_leads(leads: QuerySet[Lead], *, marker: str) -> int:
    """Empty the leads' contact data and their tickets' and messages' text. Rows and counts stay."""
    lead_ids = list(leads.values_list("pk", flat=True))
    tickets = Ticket.objects.filter(lead_id__in=lead_ids)
    anonymise_tickets(tickets)
    changed = 0
    for pk in lead_ids:  # sender_key is unique: a key no sender has
        changed += Lead.objects.filter(pk=pk).update(
            sender_key=f"{marker}:{pk}", name="", email="", phone="", external_id=""
        )
    return changed


def anonymise_tickets(tickets: QuerySet[Ticket]) -> dict:
    ticket_ids = list(tickets.values_list("pk", flat=True))
    messages = (
        Message.objects.filter(ticket_id__in=ticket_ids)
        .exclude(body=ERASED_BODY, attachments=[])
        .update(body=ERASED_BODY, attachments=[], delivery_error="")
    )
    subjects = Ticket.objects.filter(pk__in=ticket_ids).exclude(subject="").update(subject="")
    comments = CsatResponse.objects.filter(ticket_id__in=ticket_ids).exclude(comment="").update(comment="")
    return {"tickets": subjects, "messages": messages, "csat_comments": comments}


def erase_hub(person) -> dict:
    counts = anonymise_tickets(person_tickets(person))
    counts["leads"] = anonymise_leads(person_leads(person), marker="erased")
    return counts


# --- Lead retention ------------------------------------------------------------------------------
def lead_retention() -> timedelta:
    return timedelta(days=hub_setting("HUB_LEAD_RETENTION_DAYS"))


def purge_inactive_leads(*, now=None) -> int:
    """Leads never linked to a customer whose last message (or creation) is older than the retention
    period: their contact data and their tickets' text are emptied. Idempotent."""
    cutoff = (now or timezone.now()) - lead_retention()
    stale = (
        Lead.objects.filter(customer__isnull=True)
        .exclude(sender_key__startswith="purged:")
        .exclude(sender_key__startswith="erased:")
        .annotate(last_activity=Greatest("created_at", Coalesce(Max("tickets__last_message_at"), "created_at")))
        .filter(last_activity__lt=cutoff)
    )
    with transaction.atomic():
        purged = anonymise_leads(Lead.objects.filter(pk__in=list(stale.values_list("pk", flat=True))), marker="purged")
    log.info("inactive leads purged leads=%s", purged)
    return purged


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="channels_hub",
            export=export_hub,
            erase=erase_hub,
            anonymises={
                "channels_hub.Lead": ("customer", "sender_key", "name", "email", "phone", "external_id"),
                "channels_hub.Ticket": ("customer", "lead", "subject"),
                "channels_hub.Message": ("ticket", "body", "attachments", "delivery_error"),
                "channels_hub.CsatResponse": ("ticket", "comment"),
            },
            position=40,
        )
    )
    for label, reason in {
        "channels_hub.Team": "Agent teams.",
        "channels_hub.TeamMembership": "Which agents are in which team.",
        "channels_hub.Mention": "Staff mentioned in internal notes (the note's text is the message's).",
        "channels_hub.RoutingRule": "How tickets are routed.",
        "channels_hub.SlaPolicy": "Response-time targets.",
        "channels_hub.CannedReply": "Reply templates.",
        "channels_hub.ChannelEndpoint": "Outbound channel webhooks.",
    }.items():
        registry.register_not_personal_data(label, reason=reason)
