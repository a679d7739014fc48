"""Inbound email (raw RFC 822) and email replies with threading headers."""

from email.message import EmailMessage

import pytest
from django.core import mail

from channels_hub.models import Message, Ticket
from channels_hub.services import reply_to_ticket
from channels_hub.services.channels import strip_quoted_reply
from tests.crm.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/hub/email/"


def raw_mail(
    *, subject="返品について", body="コートを返品したいです。", msgid="<abc@mail.example.jp>",
    sender="Hanako <hanako@example.jp>", in_reply_to=None, attachment=None, to="support@tsunagu.example",
) -> bytes:  # fmt: skip
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Fri, 20 Nov 2026 10:00:00 +0900"
    if msgid:
        msg["Message-ID"] = msgid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    if attachment:
        msg.add_attachment(attachment, maintype="application", subtype="x-msdownload", filename="invoice.exe")
    return msg.as_bytes()


def post(api, raw):
    return api("hub:write").post(URL, raw, content_type="message/rfc822")


def test_an_email_opens_a_ticket_for_the_customer_with_that_address(api):
    customer = CustomerFactory(email="hanako@example.jp")
    response = post(api, raw_mail())
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(public_id=response.json()["ticket"])
    assert ticket.customer == customer and ticket.subject == "返品について" and ticket.first_channel == "email"
    message = ticket.messages.get()
    assert message.body == "コートを返品したいです。"
    assert message.email_message_id == "abc@mail.example.jp"


def test_the_same_email_twice_is_stored_once(api):
    first = post(api, raw_mail())
    again = post(api, raw_mail())
    assert again.status_code == 200 and again.json()["ticket"] == first.json()["ticket"]
    assert Message.objects.count() == 1


def test_quoted_reply_is_stripped_and_in_reply_to_threads_the_mail(api):
    first = post(api, raw_mail()).json()
    reply = (
        "はい、お願いします。\n\n2026年11月20日 10:00 Tsunagu <support@tsunagu.example>が書きました：\n> 以前のメール\n"
    )
    second = post(api, raw_mail(body=reply, msgid="<def@mail.example.jp>", in_reply_to="<abc@mail.example.jp>",
                                sender="other@example.net")).json()  # fmt: skip
    assert second["ticket"] == first["ticket"]  # threaded by header although the address differs
    assert Message.objects.get(email_message_id="def@mail.example.jp").body == "はい、お願いします。"


def test_a_ticket_id_in_the_subject_threads_the_mail(api):
    first = post(api, raw_mail()).json()
    subject = f"Re: 返品について [{first['ticket']}]"
    second = post(api, raw_mail(subject=subject, msgid="<x2@m>", sender="someone@else.example")).json()
    assert second["ticket"] == first["ticket"]


def test_attachments_are_described_never_stored(api):
    response = post(api, raw_mail(attachment=b"MZ\x90\x00" * 100))
    message = Message.objects.get(public_id=response.json()["message"])
    assert message.attachments == [{"name": "invoice.exe", "type": "application/x-msdownload", "size": 400}]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "source"),
        (b"this is not an email at all", "from"),
        (b"From: nobody\r\nSubject: x\r\n\r\nbody", "from"),
        (b"From: a@b.example\r\nSubject: x\r\n\r\n   ", "body"),
    ],
)
def test_malformed_email_is_400_and_writes_nothing(api, raw, field):
    response = post(api, raw)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert Ticket.objects.count() == 0 and Message.objects.count() == 0


def test_email_endpoint_wants_the_rfc822_content_type(api):
    response = api("hub:write").post(URL, {"x": 1}, format="json")
    assert response.status_code == 415
    assert Ticket.objects.count() == 0


def test_strip_quoted_reply_handles_common_clients():
    assert strip_quoted_reply("Thanks!\n\nOn Fri, Nov 20, 2026 Tsunagu wrote:\n> old\n") == "Thanks!"
    assert strip_quoted_reply("了解です\n-----Original Message-----\nFrom: x") == "了解です"
    assert strip_quoted_reply("a\n> quoted\nb") == "a\nb"


def test_an_email_reply_goes_out_with_threading_headers_after_commit(api, django_capture_on_commit_callbacks):
    CustomerFactory(email="hanako@example.jp")
    ticket = Ticket.objects.get(public_id=post(api, raw_mail()).json()["ticket"])
    agent = UserFactory(role="agent")
    with django_capture_on_commit_callbacks(execute=True):
        message = reply_to_ticket(ticket=ticket, user=agent, body="承知しました。返品ラベルをお送りします。")
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["hanako@example.jp"]
    assert sent.extra_headers["In-Reply-To"] == "<abc@mail.example.jp>"
    assert "<abc@mail.example.jp>" in sent.extra_headers["References"]
    assert sent.reply_to == [f"support+{ticket.public_id}@tsunagu.example"]
    assert ticket.public_id in sent.subject
    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.email_message_id
    assert f"<{message.email_message_id}>" == sent.extra_headers["Message-ID"]
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None and ticket.status == "pending" and ticket.assignee == agent
    # The customer's answer to our reply threads back into the ticket.
    answer = raw_mail(msgid="<ans@m>", in_reply_to=f"<{message.email_message_id}>", subject="Re: x")
    assert post(api, answer).json()["ticket"] == ticket.public_id
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_no_reply_is_mailed_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    from django.db import transaction

    from .factories import TicketFactory

    ticket = TicketFactory(customer=CustomerFactory(email="a@example.jp"))
    agent = UserFactory(role="agent")
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                reply_to_ticket(ticket=ticket, user=agent, body="x", channel="email")
                raise RuntimeError
        except RuntimeError:
            pass
    assert mail.outbox == [] and Message.objects.count() == 0


def test_an_html_only_email_is_read_as_text_without_its_scripts(api):
    raw = (
        b"From: a@example.jp\r\nSubject: html\r\nMessage-ID: <h1@m>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello <b>there</b></p><script>alert(1)</script><div>second line</div>"
    )
    response = post(api, raw)
    assert response.status_code == 201
    body = Message.objects.get().body
    assert "Hello there" in body and "second line" in body and "alert" not in body and "<" not in body
