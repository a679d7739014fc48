"""POST /api/v1/hub/messages/, /handoff/, /email/ and GET /caller/: the integration contract."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from channels_hub.models import Lead, Message, Ticket
from tests.crm.factories import CustomerFactory, IdentityFactory

from .factories import SlaPolicyFactory, TicketFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/hub/messages/"


def body(**overrides):
    data = {
        "channel": "line", "external_message_id": "line-msg-1",
        "sender": {"channel": "line", "external_id": "U-hanako", "name": "田中 花子"},
        "subject": "", "body": "注文したコートがまだ届きません", "sent_at": "2026-11-20T10:00:00+09:00",
    }  # fmt: skip
    data.update(overrides)
    return data


def nothing_written():
    return Ticket.objects.count() == 0 and Message.objects.count() == 0 and Lead.objects.count() == 0


def test_message_from_a_linked_line_account_opens_a_ticket_for_that_customer(api):
    identity = IdentityFactory(channel="line", external_id="U-hanako")
    response = api("hub:write").post(URL, body(), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["created"] is True
    assert data["customer"] == identity.customer.public_id
    ticket = Ticket.objects.get(public_id=data["ticket"])
    assert ticket.customer == identity.customer and ticket.lead is None
    assert ticket.first_channel == "line" and ticket.status == "new"
    assert ticket.messages.get().body == "注文したコートがまだ届きません"


def test_the_same_message_again_answers_200_with_the_same_ticket_and_stores_it_once(api):
    client = api("hub:write")
    first = client.post(URL, body(), format="json").json()
    again = client.post(URL, body(), format="json")
    assert again.status_code == 200
    assert again.json()["ticket"] == first["ticket"] and again.json()["created"] is False
    assert Message.objects.count() == 1 and Ticket.objects.count() == 1


def test_an_unknown_sender_becomes_a_lead_found_again_next_time(api):
    client = api("hub:write")
    first = client.post(URL, body(sender={"email": "New@Example.jp"}), format="json").json()
    later = body(
        sender={"email": "new@example.jp"}, external_message_id="line-msg-2", sent_at="2026-11-21T10:00:00+09:00"
    )
    second = client.post(URL, later, format="json").json()
    assert first["customer"] is None and first["lead"]
    assert second["lead"] == first["lead"] and second["ticket"] == first["ticket"]
    assert Lead.objects.get().email == "new@example.jp"


def test_a_known_email_finds_the_customer(api):
    customer = CustomerFactory(email="hanako@example.jp")
    data = api("hub:write").post(URL, body(channel="email", sender={"email": "HANAKO@example.jp"}), format="json")
    assert data.json()["customer"] == customer.public_id


def test_a_chat_continued_by_phone_within_the_window_stays_one_ticket(api):
    customer = CustomerFactory(phone="+819011112222")
    IdentityFactory(customer=customer, channel="chat", external_id="chat-77")
    client = api("hub:write")
    chat = client.post(URL, body(channel="chat", sender={"channel": "chat", "external_id": "chat-77"}), format="json")
    call = client.post(
        URL,
        body(channel="phone", external_message_id="call-1", sender={"phone": "090-1111-2222"},
             sent_at="2026-11-22T09:00:00+09:00"),
        format="json",
    )  # fmt: skip
    assert call.json()["ticket"] == chat.json()["ticket"]
    assert Ticket.objects.get().messages.count() == 2


def test_after_the_threading_window_a_new_ticket_opens(api):
    client = api("hub:write")
    first = client.post(URL, body(), format="json").json()
    later = client.post(URL, body(external_message_id="x2", sent_at="2026-11-24T10:00:01+09:00"), format="json")
    assert later.json()["ticket"] != first["ticket"]


def test_a_resolved_ticket_is_not_joined_but_thread_ref_reopens_it(api):
    client = api("hub:write")
    first = client.post(URL, body(), format="json").json()
    Ticket.objects.filter(public_id=first["ticket"]).update(status="resolved")
    other = client.post(URL, body(external_message_id="x2"), format="json").json()
    assert other["ticket"] != first["ticket"]
    by_ref = client.post(URL, body(external_message_id="x3", thread_ref=first["ticket"]), format="json").json()
    assert by_ref["ticket"] == first["ticket"]
    assert Ticket.objects.get(public_id=first["ticket"]).status == "open"


def test_new_ticket_gets_sla_due_times(api):
    SlaPolicyFactory(priority="normal", first_response_minutes=60, business_hours_only=False)
    data = api("hub:write").post(URL, body(), format="json").json()
    ticket = Ticket.objects.get(public_id=data["ticket"])
    assert ticket.first_response_due is not None
    assert dt.timedelta(minutes=59) < ticket.first_response_due - ticket.created_at < dt.timedelta(minutes=61)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sender": {}}, "sender"),
        ({"sender": {"name": "だれか"}}, "sender"),
        ({"sender": {"email": "not-an-email"}}, "sender.email"),
        ({"sender": {"phone": "12"}}, "sender.phone"),
        ({"sender": {"channel": "line"}}, "sender.external_id"),
        ({"sender": {"channel": "pigeon", "external_id": "x"}}, "sender.channel"),
        ({"channel": "pigeon"}, "channel"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "あ" * 20_001}, "body"),
        ({"subject": "s" * 201}, "subject"),
        ({"external_message_id": "x" * 256}, "external_message_id"),
        ({"external_message_id": ""}, "external_message_id"),
        ({"sent_at": "yesterday"}, "sent_at"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(api, overrides, field):
    response = api("hub:write").post(URL, body(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in response.json()["errors"], response.json()
    assert nothing_written()


def test_missing_sender_is_refused(api):
    data = body()
    del data["sender"]
    response = api("hub:write").post(URL, data, format="json")
    assert response.status_code == 400 and "sender" in response.json()["errors"]
    assert nothing_written()


def test_without_the_scope_403_and_without_a_key_401(api):
    assert api("customers:read").post(URL, body(), format="json").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().post(URL, body(), format="json").status_code == 401
    assert nothing_written()


def _signed(raw: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def test_with_an_inbound_secret_a_wrong_or_missing_signature_is_refused(api, settings):
    settings.HUB_INBOUND_WEBHOOK_SECRET = "topsecret"
    client = api("hub:write")
    raw = json.dumps(body()).encode()
    missing = client.post(URL, raw, content_type="application/json")
    wrong = client.post(URL, raw, content_type="application/json", HTTP_X_TSUNAGU_SIGNATURE=_signed(raw, "nope"))
    assert missing.status_code == 401 and wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_signature"
    assert nothing_written()
    good = client.post(URL, raw, content_type="application/json", HTTP_X_TSUNAGU_SIGNATURE=_signed(raw, "topsecret"))
    assert good.status_code == 201


# --- handoff ----------------------------------------------------------------------------------
HANDOFF = "/api/v1/hub/handoff/"


def handoff(**overrides):
    data = {
        "conversation_id": "conv-1",
        "sender": {"channel": "chat", "external_id": "visitor-9"},
        "transcript": [
            {"role": "customer", "text": "返品したいです", "at": "2026-11-20T10:00:00+09:00"},
            {"role": "bot", "text": "ご注文番号を教えてください", "at": "2026-11-20T10:00:05+09:00"},
            {"role": "customer", "text": "ORD-123 です。対応が遅くて困っています", "at": "2026-11-20T10:01:00+09:00"},
        ],
        "reason": "customer asked for a human",
    }
    data.update(overrides)
    return data


def test_handoff_makes_the_transcript_the_first_messages_of_a_new_ticket(api):
    TicketFactory(customer=CustomerFactory())  # someone else's ticket is not touched
    response = api("hub:write").post(HANDOFF, handoff(), format="json")
    assert response.status_code == 201
    ticket = Ticket.objects.get(public_id=response.json()["ticket"])
    messages = list(ticket.messages.order_by("sent_at", "pk"))
    assert [m.body for m in messages[:3]] == [
        "返品したいです",
        "ご注文番号を教えてください",
        "ORD-123 です。対応が遅くて困っています",
    ]
    assert [m.author for m in messages[:3]] == ["customer", "bot", "customer"]
    assert messages[3].direction == "note" and "customer asked for a human" in messages[3].body
    assert ticket.priority == "normal"


def test_handoff_for_a_complaint_raises_priority_and_a_replay_returns_the_same_ticket(api):
    client = api("hub:write")
    first = client.post(HANDOFF, handoff(reason="Complaint: late delivery"), format="json")
    assert first.json()["priority"] == "high"
    again = client.post(HANDOFF, handoff(reason="Complaint: late delivery"), format="json")
    assert again.status_code == 200 and again.json()["ticket"] == first.json()["ticket"]
    assert Ticket.objects.count() == 1 and Message.objects.count() == 4


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"transcript": []}, "transcript"),
        ({"transcript": [{"role": "alien", "text": "x", "at": "2026-11-20T10:00:00+09:00"}]}, "transcript.0.role"),
        ({"transcript": [{"role": "customer", "text": "", "at": "2026-11-20T10:00:00+09:00"}]}, "transcript.0.text"),
        ({"transcript": [{"role": "customer", "text": "x", "at": "nope"}]}, "transcript.0.at"),
        ({"sender": {}}, "sender"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"reason": "r" * 1001}, "reason"),
    ],
)
def test_bad_handoff_is_refused_and_writes_nothing(api, overrides, field):
    response = api("hub:write").post(HANDOFF, handoff(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert nothing_written()


# --- caller lookup ------------------------------------------------------------------------------
def test_caller_lookup_pops_the_customer_and_their_open_tickets(api):
    customer = CustomerFactory(phone="+819012345678")
    open_ticket = TicketFactory(customer=customer, status="open")
    TicketFactory(customer=customer, status="closed")
    response = api("customers:read").get("/api/v1/hub/caller/", {"phone": "090-1234-5678"})
    assert response.status_code == 200
    data = response.json()
    assert [c["id"] for c in data["customers"]] == [customer.public_id]
    assert [t["id"] for t in data["tickets"]] == [open_ticket.public_id]


def test_caller_lookup_with_a_bad_number_is_400(api):
    response = api("customers:read").get("/api/v1/hub/caller/", {"phone": "abc"})
    assert response.status_code == 400 and "phone" in response.json()["errors"]
    response = api("customers:read").get("/api/v1/hub/caller/")
    assert response.status_code == 400 and "phone" in response.json()["errors"]


def test_caller_lookup_of_an_unknown_number_that_wrote_before_shows_the_lead(api):
    api("hub:write").post(URL, body(channel="phone", sender={"phone": "09099998888"}), format="json")
    data = api("customers:read").get("/api/v1/hub/caller/", {"phone": "+819099998888"}).json()
    assert data["customers"] == [] and data["lead"] and len(data["tickets"]) == 1


def test_sent_at_far_in_the_past_still_threads_by_thread_ref(api):
    ticket = TicketFactory(last_message_at=timezone.now())
    data = api("hub:write").post(URL, body(thread_ref=ticket.public_id), format="json").json()
    assert data["ticket"] == ticket.public_id
