"""Services: outbound webhooks, routing rules, SLA business hours, merges, leads, CSAT, notes."""

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels_hub.models import CsatResponse, Lead, Mention, Message, SlaPolicy, TeamMembership, Ticket
from channels_hub.services import (
    add_internal_note,
    create_customer_from_lead,
    hand_off_conversation,
    link_lead,
    mark_sla_breaches,
    merge_tickets,
    receive_message,
    record_csat,
    reply_to_ticket,
    update_ticket,
)
from channels_hub.services.outbound import deliver_reply
from channels_hub.services.sla import add_business_minutes
from channels_hub.services.tickets import csat_token
from crm.registry import _summary_providers, register_customer_summary
from crm.services import merge_customers
from tests.crm.factories import CustomerFactory, IdentityFactory, UserFactory

from .factories import EndpointFactory, LeadFactory, MessageFactory, RoutingRuleFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


# --- outbound webhook through a local HTTP server --------------------------------------------
class Hook:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((dict(self.headers), body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory():
    hooks = []

    def make(statuses=()):
        hook = Hook(statuses)
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


def chat_ticket():
    """A ticket on a channel whose replies go out through the signed webhook (LINE has its connector)."""
    customer = CustomerFactory()
    IdentityFactory(customer=customer, channel="chat", external_id="U-1")
    message, _ = receive_message(
        channel="chat",
        sender={"channel": "chat", "external_id": "U-1"},
        body="在庫ありますか",
        external_message_id="l1",
    )
    return message.ticket


def test_a_chat_reply_is_posted_to_the_signed_webhook(hook_factory, django_capture_on_commit_callbacks):
    hook = hook_factory()
    EndpointFactory(channel="chat", url=hook.url, secret="k3y")
    ticket = chat_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        message = reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="在庫ございます")
    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.channel == "chat"
    headers, raw = hook.requests[0]
    expected = "sha256=" + hmac.new(b"k3y", raw, hashlib.sha256).hexdigest()
    assert headers["X-Tsunagu-Signature"] == expected
    payload = json.loads(raw)
    assert payload["body"] == "在庫ございます" and payload["recipient"]["identities"] == ["U-1"]


def test_a_failing_webhook_is_retried_then_marked_failed(hook_factory, settings):
    settings.HUB_WEBHOOK_MAX_ATTEMPTS = 3
    hook = hook_factory(statuses=[500, 503, 502])
    EndpointFactory(channel="chat", url=hook.url)
    ticket = chat_ticket()
    message = reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="x")  # on_commit not run here
    assert deliver_reply(message_id=message.pk) == "retry"
    assert deliver_reply(message_id=message.pk) == "retry"
    assert deliver_reply(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_status == "failed" and message.delivery_attempts == 3 and "502" in message.delivery_error
    assert deliver_reply(message_id=message.pk) == "skip"  # a late retry sends nothing again
    assert len(hook.requests) == 3


def test_a_webhook_that_recovers_delivers_once(hook_factory):
    hook = hook_factory(statuses=[500, 200])
    EndpointFactory(channel="chat", url=hook.url)
    message = reply_to_ticket(ticket=chat_ticket(), user=UserFactory(role="agent"), body="x")
    assert [deliver_reply(message_id=message.pk) for _ in range(3)] == ["retry", "sent", "skip"]
    assert len(hook.requests) == 2


def test_a_channel_chosen_explicitly_without_endpoint_fails_visibly():
    message = reply_to_ticket(ticket=chat_ticket(), user=UserFactory(role="agent"), body="x", channel="chat")
    assert deliver_reply(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_status == "failed"


def test_a_chat_without_endpoint_is_answered_by_email_where_the_customer_wrote():
    ticket = chat_ticket()
    ticket.customer.email = "chat.user@example.jp"
    ticket.customer.save()
    message = reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="在庫ございます")
    assert message.channel == "email"
    assert deliver_reply(message_id=message.pk) == "sent"
    assert mail.outbox[-1].to == ["chat.user@example.jp"] and "在庫ございます" in mail.outbox[-1].body


def test_reply_bad_input_writes_nothing():
    ticket = chat_ticket()
    with pytest.raises(ValidationError) as err:
        reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="   ")
    assert "body" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="x", channel="fax")
    assert "channel" in err.value.message_dict
    assert ticket.messages.count() == 1


# --- routing ---------------------------------------------------------------------------------------
def test_first_matching_rule_routes_by_keyword_and_round_robins_the_team():
    team = TeamFactory()
    a, b, away = UserFactory(role="agent"), UserFactory(role="agent"), UserFactory(role="agent")
    TeamMembership.objects.create(team=team, user=a)
    TeamMembership.objects.create(team=team, user=b)
    TeamMembership.objects.create(team=team, user=away, available=False)
    RoutingRuleFactory(name="returns", position=1, keywords="返品, refund", set_team=team, set_priority="high",
                       set_tags="returns", round_robin=True)  # fmt: skip
    RoutingRuleFactory(name="catch-all", position=2, set_tags="general")
    assignees = []
    for i in range(4):
        message, _ = receive_message(channel="email", sender={"email": f"c{i}@example.jp"}, body="返品したい",
                                     external_message_id=f"r{i}")  # fmt: skip
        t = message.ticket
        assert (t.team, t.priority, t.tags) == (team, "high", ["returns"])
        assignees.append(t.assignee)
    assert assignees == [a, b, a, b]
    other, _ = receive_message(channel="email", sender={"email": "z@example.jp"}, body="hello", external_message_id="z")
    assert other.ticket.tags == ["general"] and other.ticket.team is None


def test_rules_match_on_channel_and_customer_tier():
    register_customer_summary("test.tier", lambda customers: {c.pk: {"tier": "gold"} for c in customers})
    try:
        RoutingRuleFactory(position=1, channel="line", tier="gold", set_priority="urgent")
        IdentityFactory(channel="line", external_id="G1")
        gold, _ = receive_message(channel="line", sender={"channel": "line", "external_id": "G1"}, body="x",
                                  external_message_id="g1")  # fmt: skip
        lead, _ = receive_message(channel="line", sender={"channel": "line", "external_id": "N1"}, body="x",
                                  external_message_id="n1")  # fmt: skip
        mail_, _ = receive_message(channel="email", sender={"email": "x@example.jp"}, body="x", external_message_id="e")
    finally:
        _summary_providers.pop("test.tier")
    assert gold.ticket.priority == "urgent"
    assert lead.ticket.priority == "normal" and mail_.ticket.priority == "normal"


def test_rules_and_policies_are_read_once_per_process_until_one_is_saved():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    RoutingRuleFactory(position=1, keywords="返品", set_priority="high")
    SlaPolicy.objects.create(priority="high", first_response_minutes=60, resolution_minutes=600,
                             business_hours_only=False)  # fmt: skip
    receive_message(channel="email", sender={"email": "a@example.jp"}, body="返品", external_message_id="w")
    with CaptureQueriesContext(connection) as queries:
        second, _ = receive_message(channel="email", sender={"email": "b@example.jp"}, body="返品",
                                    external_message_id="x")  # fmt: skip
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "channels_hub_routingrule" not in tables and "channels_hub_slapolicy" not in tables
    assert second.ticket.priority == "high" and second.ticket.first_response_due is not None


def test_a_rule_edited_in_another_process_applies_to_the_next_message():
    from django.core.cache import cache

    from channels_hub.models import RoutingRule
    from channels_hub.services.sla import routing_rules, sla_policies

    rule = RoutingRuleFactory(position=1, keywords="返品", set_priority="high")
    first, _ = receive_message(channel="email", sender={"email": "a@example.jp"}, body="返品", external_message_id="1")
    assert first.ticket.priority == "high"
    # another process edits the rule and adds a policy: its saves bump the shared versions
    RoutingRule.objects.filter(pk=rule.pk).update(set_priority="urgent")
    SlaPolicy.objects.bulk_create([SlaPolicy(priority="urgent", first_response_minutes=30, resolution_minutes=60,
                                             business_hours_only=False)])  # fmt: skip
    cache.set(routing_rules.key, "written-by-another-process")
    cache.set(sla_policies.key, "written-by-another-process")
    second, _ = receive_message(channel="email", sender={"email": "b@example.jp"}, body="返品", external_message_id="2")
    assert second.ticket.priority == "urgent"
    assert second.ticket.resolution_due - second.ticket.created_at < dt.timedelta(minutes=61)


def test_a_rule_saved_here_applies_to_the_next_message_and_a_deleted_team_is_dropped():
    team = TeamFactory()
    rule = RoutingRuleFactory(position=1, keywords="返品", set_team=team)
    first, _ = receive_message(channel="email", sender={"email": "a@example.jp"}, body="返品", external_message_id="1")
    assert first.ticket.team == team
    rule.active = False
    rule.save()
    second, _ = receive_message(channel="email", sender={"email": "b@example.jp"}, body="返品", external_message_id="2")
    assert second.ticket.team is None
    rule.active = True
    rule.save()
    from channels_hub.models import Ticket

    Ticket.objects.filter(team=team).update(team=None)  # tickets keep their team: let it go first
    team.delete()  # the rule's set_team becomes NULL without the rule being saved
    third, _ = receive_message(channel="email", sender={"email": "c@example.jp"}, body="返品", external_message_id="3")
    assert third.ticket.team is None


# --- SLA -------------------------------------------------------------------------------------------
def test_business_minutes_skip_nights_and_weekends():
    policy = SlaPolicy(priority="normal", first_response_minutes=0, resolution_minutes=0, business_hours_only=True,
                       business_start=dt.time(9), business_end=dt.time(18), business_days="01234")  # fmt: skip
    friday_evening = dt.datetime(2026, 11, 20, 17, 30, tzinfo=TOKYO)
    assert add_business_minutes(friday_evening, 60, policy) == dt.datetime(2026, 11, 23, 9, 30, tzinfo=TOKYO)
    saturday = dt.datetime(2026, 11, 21, 12, 0, tzinfo=TOKYO)
    assert add_business_minutes(saturday, 30, policy) == dt.datetime(2026, 11, 23, 9, 30, tzinfo=TOKYO)
    early = dt.datetime(2026, 11, 24, 7, 0, tzinfo=TOKYO)
    assert add_business_minutes(early, 9 * 60 + 1, policy) == dt.datetime(2026, 11, 25, 9, 1, tzinfo=TOKYO)


def test_beat_task_marks_overdue_tickets_once():
    now = timezone.now()
    late = TicketFactory(resolution_due=now - dt.timedelta(minutes=1))
    no_answer = TicketFactory(first_response_due=now - dt.timedelta(minutes=1))
    answered = TicketFactory(first_response_due=now - dt.timedelta(minutes=1), first_response_at=now)
    done = TicketFactory(resolution_due=now - dt.timedelta(minutes=1), status="resolved")
    from channels_hub.tasks import mark_sla_breaches as task

    assert task.delay().get() == 2
    assert mark_sla_breaches() == 0
    assert {t.pk for t in Ticket.objects.filter(sla_breached_at__isnull=False)} == {late.pk, no_answer.pk}
    assert not Ticket.objects.filter(pk__in=[answered.pk, done.pk], sla_breached_at__isnull=False).exists()


# --- notes and mentions --------------------------------------------------------------------------------
def test_a_note_mentions_a_colleague_by_mail_and_in_app(django_capture_on_commit_callbacks):
    author = UserFactory(role="agent", email="sato@tsunagu.example")
    colleague = UserFactory(role="agent", email="suzuki.k@tsunagu.example")
    ticket = TicketFactory()
    with django_capture_on_commit_callbacks(execute=True):
        note = add_internal_note(ticket=ticket, user=author, body="@suzuki.k 返金の承認をお願いします (cc @sato)")
    assert note.direction == "note"
    assert list(Mention.objects.values_list("user", flat=True)) == [colleague.pk]  # not the author
    assert [m.to for m in mail.outbox] == [["suzuki.k@tsunagu.example"]]
    assert ticket.public_id in mail.outbox[0].subject


# --- status, CSAT ----------------------------------------------------------------------------------------
def test_resolving_mails_a_signed_survey_and_the_answer_is_kept_once(django_capture_on_commit_callbacks):
    ticket = TicketFactory(customer=CustomerFactory(email="hanako@example.jp"))
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket=ticket, status="resolved")
    assert len(mail.outbox) == 1 and "/survey/" in mail.outbox[0].body
    token = csat_token(ticket)
    record_csat(token=token, score=4, comment="丁寧でした")
    ticket.refresh_from_db()
    assert ticket.csat_score == 4 and ticket.resolved_at is not None
    with pytest.raises(ValidationError):
        record_csat(token=token, score=1)
    assert CsatResponse.objects.get().score == 4


@pytest.mark.parametrize("score", [0, 6, "x", None])
def test_csat_score_out_of_range_is_refused(score):
    ticket = TicketFactory()
    with pytest.raises(ValidationError) as err:
        record_csat(token=csat_token(ticket), score=score)
    assert "score" in err.value.message_dict
    assert CsatResponse.objects.count() == 0


def test_update_ticket_bad_values_write_nothing():
    ticket = TicketFactory()
    with pytest.raises(ValidationError) as err:
        update_ticket(ticket=ticket, status="exploded", priority="meh")
    assert set(err.value.message_dict) == {"status", "priority"}
    ticket.refresh_from_db()
    assert ticket.status == "new" and ticket.priority == "normal"


# --- merges and leads ---------------------------------------------------------------------------------
def test_merging_customers_moves_tickets_and_leads():
    winner, loser = CustomerFactory(), CustomerFactory()
    ticket = TicketFactory(customer=loser)
    lead = LeadFactory(customer=loser)
    merge = merge_customers(winner=winner, loser=loser, reason="same person")
    ticket.refresh_from_db()
    lead.refresh_from_db()
    assert ticket.customer == winner and lead.customer == winner
    assert merge.moved["tickets"] == 1 and merge.moved["leads"] == 1


def test_merging_tickets_moves_messages_and_closes_the_source():
    customer = CustomerFactory()
    source, target = TicketFactory(customer=customer, tags=["a"]), TicketFactory(customer=customer, tags=["b"])
    MessageFactory(ticket=source)
    MessageFactory(ticket=target)
    merge_tickets(source=source, target=target)
    source.refresh_from_db()
    target.refresh_from_db()
    assert target.messages.count() == 2 and source.messages.count() == 0
    assert source.status == "closed" and source.merged_into == target and target.tags == ["a", "b"]
    # A later message naming the old ticket lands in the survivor.
    message, _ = receive_message(
        channel="email", sender={"email": customer.email}, body="x", thread_ref=source.public_id,
        external_message_id="late",
    )  # fmt: skip
    assert message.ticket == target


def test_tickets_of_different_customers_cannot_be_merged():
    a, b = TicketFactory(), TicketFactory()
    with pytest.raises(ValidationError):
        merge_tickets(source=a, target=b)
    with pytest.raises(ValidationError):
        merge_tickets(source=a, target=a)
    assert Ticket.objects.filter(merged_into__isnull=False).count() == 0


def test_linking_a_lead_gives_its_tickets_to_the_customer_and_later_messages_follow():
    message, _ = receive_message(channel="email", sender={"email": "who@example.jp"}, body="x", external_message_id="1")
    lead = Lead.objects.get()
    customer = CustomerFactory(email="other@example.jp")
    link_lead(lead=lead, customer=customer)
    message.ticket.refresh_from_db()
    assert message.ticket.customer == customer
    later, _ = receive_message(channel="email", sender={"email": "who@example.jp"}, body="y", external_message_id="2")
    assert later.ticket == message.ticket and Lead.objects.count() == 1


def test_a_customer_can_be_created_from_a_lead():
    receive_message(channel="line", sender={"channel": "line", "external_id": "U9", "name": "山田 太郎"}, body="x",
                    external_message_id="1")  # fmt: skip
    customer = create_customer_from_lead(lead=Lead.objects.get())
    assert (customer.family_name, customer.given_name) == ("山田", "太郎")
    assert customer.identities.get().external_id == "U9"
    assert Ticket.objects.get().customer == customer
    with pytest.raises(ValidationError):
        create_customer_from_lead(lead=Lead.objects.get())


def test_a_handoff_for_a_known_customer_then_their_email_continue_the_same_ticket():
    customer = CustomerFactory(email="k@example.jp")
    IdentityFactory(customer=customer, channel="chat", external_id="v1")
    ticket, created = hand_off_conversation(
        conversation_id="c1", sender={"channel": "chat", "external_id": "v1"}, reason="至急",
        transcript=[{"role": "customer", "text": "助けて", "at": timezone.now()}],
    )  # fmt: skip
    assert created and ticket.priority == "high" and ticket.customer == customer
    message, _ = receive_message(
        channel="email", sender={"email": "k@example.jp"}, body="続きです", external_message_id="e"
    )
    assert message.ticket == ticket
    assert Message.objects.filter(ticket=ticket).count() == 3
