"""Real concurrency against PostgreSQL: threads with their own connections, released together."""

import pytest
from rest_framework.test import APIClient

from channels_hub.models import Lead, Message, Ticket
from crm.services import create_api_key
from tests.concurrency import run_concurrently
from tests.crm.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
URL = "/api/v1/hub/messages/"


@pytest.fixture
def raw_key():
    return create_api_key(name="chatbot", scopes=["hub:write"])[1]


def client(raw_key):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return c


def body(i: int, **overrides):
    data = {
        "channel": "line", "external_message_id": f"m-{i}", "sender": {"channel": "line", "external_id": "U-new"},
        "body": f"メッセージ {i}", "sent_at": "2026-11-20T10:00:00+09:00",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_the_same_inbound_message_from_twenty_threads_is_stored_once(raw_key):
    responses = run_concurrently(lambda i: client(raw_key).post(URL, body(0), format="json"), 20)
    statuses = sorted(getattr(r, "status_code", r) for r in responses)
    assert statuses == [200] * 19 + [201], statuses
    assert len({r.json()["ticket"] for r in responses}) == 1
    assert Message.objects.count() == 1 and Ticket.objects.count() == 1 and Lead.objects.count() == 1


def test_twenty_different_messages_from_one_new_sender_make_one_ticket_and_one_lead(raw_key):
    responses = run_concurrently(lambda i: client(raw_key).post(URL, body(i), format="json"), 20)
    assert [getattr(r, "status_code", r) for r in responses] == [201] * 20
    assert Lead.objects.count() == 1 and Ticket.objects.count() == 1
    assert Message.objects.count() == 20


def test_twenty_messages_from_one_known_customer_by_email_make_one_ticket(raw_key):
    CustomerFactory(email="busy@example.jp")
    responses = run_concurrently(
        lambda i: client(raw_key).post(
            URL, body(i, channel="email", sender={"email": "busy@example.jp"}), format="json"
        ),
        20,
    )
    assert [getattr(r, "status_code", r) for r in responses] == [201] * 20
    assert Ticket.objects.count() == 1 and Lead.objects.count() == 0 and Message.objects.count() == 20
