"""The contact hub's seams (issue 14): replies that cannot go where the customer wrote go by email,
failed deliveries shown loudly with a retry and no survey after them, handoffs joining the open
ticket, messages dated in the future refused, unknown senders attached when identified."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from channels_hub.models import Lead, Message, Ticket
from channels_hub.services import hand_off_conversation, receive_message
from crm.services import create_customer, link_channel_account, update_customer
from tests.crm.factories import CustomerFactory, UserFactory
from tests.mfa import login_as

from .factories import TicketFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def agent(client):
    user = UserFactory(role="agent")
    login_as(client, user)
    return user


def ticket_url(ticket, action=""):
    return f"/hub/tickets/{ticket.public_id}/" + (f"{action}/" if action else "")


def web_form_ticket(client, django_capture_on_commit_callbacks, email="visitor@example.jp") -> Ticket:
    data = {"name": "山田 太郎", "email": email, "subject": "返品について", "body": "返品できますか"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/contact/", data).status_code == 200
    mail.outbox.clear()
    return Ticket.objects.get(first_channel="web_form")


# --- replies that cannot go where the customer wrote --------------------------------------------------
def test_a_reply_to_a_web_form_inquiry_reaches_the_customer_by_email(client, agent, django_capture_on_commit_callbacks):
    ticket = web_form_ticket(client, django_capture_on_commit_callbacks)
    page = text(client.get(ticket_url(ticket)))
    assert 'id="reply-route"' in page and "email" in page.lower()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ticket_url(ticket, "reply"), {"body": "返品は30日以内に承ります。", "channel": ""})
    assert response.status_code == 302
    reply = ticket.messages.get(direction="out")
    assert reply.channel == "email" and reply.delivery_status == "sent"
    assert [m.to for m in mail.outbox] == [["visitor@example.jp"]]
    assert "返品は30日以内に承ります。" in mail.outbox[0].body
    page = text(client.get(response["Location"]))
    assert "by Email" in page and "did not reach the customer" not in page


def test_a_reply_in_japanese_says_it_went_by_email(client, agent, django_capture_on_commit_callbacks):
    agent.language = "ja"
    agent.save()
    ticket = web_form_ticket(client, django_capture_on_commit_callbacks)
    response = client.post(ticket_url(ticket, "reply"), {"body": "承知しました", "channel": ""}, follow=True)
    assert "で送信しています。" in text(response)
    assert "では返信できないため" in text(client.get(ticket_url(ticket)))


def test_a_reply_that_could_reach_nobody_is_refused_naming_the_channel(client, agent):
    customer = CustomerFactory(email="")
    ticket = receive_message(channel="phone", sender={"phone": "090-1111-2222"}, customer=customer,
                             body="電話がありました", external_message_id="call:1")[0].ticket  # fmt: skip
    response = client.post(ticket_url(ticket, "reply"), {"body": "折り返します", "channel": ""})
    assert response.status_code == 400
    assert "no email address" in text(response)
    assert not ticket.messages.filter(direction="out").exists()


def test_a_web_form_cannot_be_chosen_to_carry_a_reply(client, agent, django_capture_on_commit_callbacks):
    ticket = web_form_ticket(client, django_capture_on_commit_callbacks)
    response = client.post(ticket_url(ticket, "reply"), {"body": "x", "channel": "web_form"})
    assert response.status_code == 400 and not ticket.messages.filter(direction="out").exists()


# --- failed deliveries ---------------------------------------------------------------------------
def failed_reply(client, ticket):
    """A chat reply sent explicitly on chat, where no endpoint is configured: it fails."""
    client.post(ticket_url(ticket, "reply"), {"body": "在庫ございます", "channel": "chat"})
    return ticket.messages.get(direction="out")


def test_a_failed_reply_is_shown_loudly_and_can_be_sent_again_by_email(
    client, agent, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(customer=CustomerFactory(email="hanako@example.jp"), first_channel="chat")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ticket_url(ticket, "reply"), {"body": "在庫ございます", "channel": "chat"})
    reply = ticket.messages.get(direction="out")
    assert reply.delivery_status == "failed"
    page = text(client.get(ticket_url(ticket)))
    assert 'role="alert"' in page and "A reply did not reach the customer" in page
    assert "no outbound endpoint" in page and "Send by email instead" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ticket_url(ticket, f"replies/{reply.public_id}/retry"), {"by": "email"})
    reply.refresh_from_db()
    assert reply.delivery_status == "sent" and reply.channel == "email"
    assert [m.to for m in mail.outbox] == [["hanako@example.jp"]]
    assert "A reply did not reach the customer" not in text(client.get(ticket_url(ticket)))


def test_retrying_a_reply_that_did_not_fail_changes_nothing(client, agent):
    ticket = TicketFactory()
    sent = ticket.messages.create(channel="email", direction="out", author="agent", body="x",
                                  sent_at=timezone.now(), delivery_status="sent")  # fmt: skip
    response = client.post(ticket_url(ticket, f"replies/{sent.public_id}/retry"), follow=True)
    assert "Only a reply whose delivery failed" in text(response)
    assert client.post(ticket_url(ticket, "replies/msg_nope/retry")).status_code == 404
    sent.refresh_from_db()
    assert sent.delivery_status == "sent" and sent.delivery_attempts == 0


def test_no_survey_is_mailed_after_a_reply_that_failed(client, agent, django_capture_on_commit_callbacks):
    ticket = TicketFactory(customer=CustomerFactory(email="hanako@example.jp"), first_channel="chat")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ticket_url(ticket, "reply"), {"body": "x", "channel": "chat"})
        client.post(ticket_url(ticket, "update"), {"status": "resolved", "priority": "normal"})
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert not [m for m in mail.outbox if "/survey/" in m.body]


def test_a_survey_is_mailed_when_the_last_reply_arrived(client, agent, django_capture_on_commit_callbacks):
    ticket = TicketFactory(customer=CustomerFactory(email="hanako@example.jp"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ticket_url(ticket, "reply"), {"body": "x", "channel": "email"})
        client.post(ticket_url(ticket, "update"), {"status": "resolved", "priority": "normal"})
    assert len([m for m in mail.outbox if "/survey/" in m.body]) == 1


# --- handoffs join the open ticket -----------------------------------------------------------------
def test_a_chatbot_handoff_joins_the_customers_open_ticket():
    customer = CustomerFactory(email="hanako@example.jp")
    first, _ = receive_message(channel="email", sender={"email": "hanako@example.jp"}, body="コートが届きません",
                               external_message_id="m1")  # fmt: skip
    now = timezone.now()
    ticket, created = hand_off_conversation(
        conversation_id="conv-9", sender={"email": "hanako@example.jp"}, reason="人と話したい",
        transcript=[{"role": "customer", "text": "まだ届かない", "at": now}],
    )  # fmt: skip
    assert created and ticket.pk == first.ticket_id
    assert Ticket.objects.filter(customer=customer).count() == 1
    assert ticket.messages.filter(body="まだ届かない").exists()


def test_an_urgent_handoff_raises_the_priority_of_the_ticket_it_joins():
    CustomerFactory(email="hanako@example.jp")
    first, _ = receive_message(channel="email", sender={"email": "hanako@example.jp"}, body="質問です",
                               external_message_id="m1")  # fmt: skip
    ticket, _ = hand_off_conversation(
        conversation_id="conv-9", sender={"email": "hanako@example.jp"}, reason="Complaint",
        transcript=[{"role": "customer", "text": "対応が遅い", "at": timezone.now()}],
    )  # fmt: skip
    ticket.refresh_from_db()
    assert ticket.pk == first.ticket_id and ticket.priority == "high"


# --- future sent_at ----------------------------------------------------------------------------------
def test_a_message_dated_in_the_future_is_refused_naming_sent_at_and_writes_nothing(api):
    future = (timezone.now() + dt.timedelta(days=365 * 3)).isoformat()
    response = api("hub:write").post(
        "/api/v1/hub/messages/",
        {"channel": "chat", "external_message_id": "f1", "sender": {"email": "a@example.jp"}, "body": "x",
         "sent_at": future},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "sent_at" in response.json()["errors"]
    assert Ticket.objects.count() == 0 and Lead.objects.count() == 0 and Message.objects.count() == 0


def test_a_message_a_minute_ahead_of_our_clock_is_accepted(api):
    soon = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    response = api("hub:write").post(
        "/api/v1/hub/messages/",
        {"channel": "chat", "external_message_id": "f1", "sender": {"email": "a@example.jp"}, "body": "x",
         "sent_at": soon},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201


def test_a_handoff_line_dated_in_the_future_is_refused_naming_it(api):
    future = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    response = api("hub:write").post(
        "/api/v1/hub/handoff/",
        {"conversation_id": "c1", "sender": {"email": "a@example.jp"}, "reason": "",
         "transcript": [{"role": "customer", "text": "x", "at": future}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "transcript.0.at" in response.json()["errors"]
    assert Ticket.objects.count() == 0 and Message.objects.count() == 0


# --- unknown senders attached when identified ----------------------------------------------------------
def test_tickets_of_an_unknown_sender_move_to_the_customer_registered_with_that_email():
    message, _ = receive_message(channel="email", sender={"email": "New@Example.jp"}, body="入会したい",
                                 external_message_id="m1")  # fmt: skip
    assert message.ticket.customer is None
    customer = create_customer(family_name="新井", given_name="花", email="new@example.jp")
    message.ticket.refresh_from_db()
    assert message.ticket.customer == customer
    assert Lead.objects.get().customer == customer


def test_tickets_of_an_unknown_phone_move_when_a_customer_adds_that_phone():
    message, _ = receive_message(channel="phone", sender={"phone": "090-3333-4444"}, body="在庫確認",
                                 external_message_id="c1")  # fmt: skip
    customer = CustomerFactory(phone="")
    update_customer(customer=customer, phone="09033334444")
    message.ticket.refresh_from_db()
    assert message.ticket.customer == customer


def test_tickets_of_an_unknown_line_account_move_when_the_member_links_it():
    message, _ = receive_message(channel="line", sender={"channel": "line", "external_id": "U-x"}, body="こんにちは",
                                 external_message_id="l1")  # fmt: skip
    customer = CustomerFactory(birth_date=dt.date(1990, 1, 2))
    link_channel_account(channel="line", external_id="U-x", member_number=customer.member_number,
                         birth_date=dt.date(1990, 1, 2))  # fmt: skip
    message.ticket.refresh_from_db()
    assert message.ticket.customer == customer


def test_a_customer_created_through_the_api_takes_over_the_leads_tickets(api):
    message, _ = receive_message(channel="email", sender={"email": "lead@example.jp"}, body="質問",
                                 external_message_id="m1")  # fmt: skip
    response = api("customers:write").post("/api/v1/customers/", {"family_name": "田中", "email": "lead@example.jp"},
                                           format="json")  # fmt: skip
    assert response.status_code == 201
    message.ticket.refresh_from_db()
    assert message.ticket.customer.public_id == response.json()["id"]


# --- mentions by display name ------------------------------------------------------------------------
@pytest.mark.parametrize("written", ["@鈴木 花子", "@鈴木花子さん、確認を", "@ｽｽﾞｷ", "@Suzuki.K"])
def test_a_note_mentions_a_colleague_by_display_name_or_email(written, django_capture_on_commit_callbacks):
    from channels_hub.models import Mention
    from channels_hub.services import add_internal_note

    if "ｽｽﾞｷ" in written:
        suzuki = UserFactory(role="agent", display_name="スズキ", email="hk@tsunagu.example")
    else:
        suzuki = UserFactory(role="agent", display_name="鈴木 花子", email="suzuki.k@tsunagu.example")
    UserFactory(role="agent", display_name="佐藤 一郎")
    author = UserFactory(role="agent", display_name="田中")
    with django_capture_on_commit_callbacks(execute=True):
        add_internal_note(ticket=TicketFactory(), user=author, body=f"{written} 見てください")
    assert [m.user for m in Mention.objects.all()] == [suzuki]
    assert [m.to for m in mail.outbox] == [[suzuki.email]]


def test_a_note_without_a_known_name_mentions_nobody():
    from channels_hub.models import Mention
    from channels_hub.services import add_internal_note

    UserFactory(role="agent", display_name="鈴木 花子")
    add_internal_note(ticket=TicketFactory(), user=UserFactory(role="agent"), body="@田村 お願い, mail a@b.jp")
    assert Mention.objects.count() == 0


def test_the_inbox_flags_a_ticket_whose_reply_was_not_delivered(client, agent):
    failed = TicketFactory(subject="FAILED", assignee=agent)
    failed.messages.create(channel="chat", direction="out", author="agent", body="x", sent_at=timezone.now(),
                           delivery_status="failed")  # fmt: skip
    TicketFactory(subject="FINE", assignee=agent)
    body = text(client.get("/hub/"))
    row = body.split("FAILED")[1].split("</tr>")[0]
    assert "Reply not delivered" in row
    assert body.count("Reply not delivered") == 1
