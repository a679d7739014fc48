"""Data minimisation: leads nobody has heard from for HUB_LEAD_RETENTION_DAYS lose their contact data
and their tickets' text (the rows stay for the reports); active leads and customers' leads stay."""

import datetime as dt

import pytest
from django.utils import timezone

from channels_hub.models import Lead, Message, Ticket
from channels_hub.tasks import purge_inactive_leads
from tests.crm.factories import CustomerFactory

from .factories import LeadFactory, MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _lead_with_message(days_ago: int, **lead):
    at = timezone.now() - dt.timedelta(days=days_ago)
    created = LeadFactory(**lead)
    Lead.objects.filter(pk=created.pk).update(created_at=at)
    ticket = TicketFactory(customer=None, lead=created, subject="在庫の問い合わせ", last_message_at=at)
    MessageFactory(ticket=ticket, body="まだありますか", sent_at=at)
    return created, ticket


def test_leads_silent_past_the_retention_are_purged_once(settings):
    settings.HUB_LEAD_RETENTION_DAYS = 730
    stale, stale_ticket = _lead_with_message(800, email="old@example.jp", name="古い人")
    recent, _ = _lead_with_message(100, email="new@example.jp")
    known, _ = _lead_with_message(800, email="known@example.jp", customer=CustomerFactory())
    assert purge_inactive_leads() == 1
    stale.refresh_from_db()
    assert (stale.name, stale.email, stale.phone, stale.sender_key) == ("", "", "", f"purged:{stale.pk}")
    assert Ticket.objects.get(pk=stale_ticket.pk).subject == ""
    assert Message.objects.get(ticket=stale_ticket).body == "(erased)"
    assert Lead.objects.get(pk=recent.pk).email == "new@example.jp"
    assert Lead.objects.get(pk=known.pk).email == "known@example.jp"
    assert purge_inactive_leads() == 0


def test_a_lead_that_wrote_again_recently_is_kept(settings):
    settings.HUB_LEAD_RETENTION_DAYS = 730
    lead, ticket = _lead_with_message(800, email="back@example.jp")
    Ticket.objects.filter(pk=ticket.pk).update(last_message_at=timezone.now() - dt.timedelta(days=3))
    assert purge_inactive_leads() == 0
    assert Lead.objects.get(pk=lead.pk).email == "back@example.jp"
