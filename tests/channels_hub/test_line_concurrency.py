"""LINE webhooks at the same moment, against PostgreSQL: threads with their own connections."""

import json

import pytest
from django.test import Client

from channels_hub.line.fake import FakeLine, sign
from channels_hub.line.models import LineFollower, LineWebhookEvent
from channels_hub.line.services import configure_line_account
from channels_hub.models import Message, Ticket
from tests.concurrency import run_concurrently

from .line_support import SECRET, TOKEN, user_id

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ALICE = user_id(1)


@pytest.fixture
def line():
    fake = FakeLine(access_token=TOKEN, channel_secret=SECRET).start()
    configure_line_account(name="shop", channel_secret=SECRET, access_token=TOKEN, api_base=fake.base_url)
    yield fake
    fake.stop()


def _post(event: dict):
    body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
    return Client().post("/hooks/line/shop/", body, content_type="application/json",
                         HTTP_X_LINE_SIGNATURE=sign(body, SECRET))  # fmt: skip


def test_one_event_delivered_by_ten_threads_at_once_is_stored_and_processed_once(line):
    event = line._base_event("message", ALICE)
    event["message"] = {"type": "text", "id": "4242", "text": "在庫ありますか"}
    responses = run_concurrently(lambda i: _post(event), 10)
    assert [getattr(r, "status_code", r) for r in responses] == [200] * 10
    assert LineWebhookEvent.objects.count() == 1 and Message.objects.count() == 1 and Ticket.objects.count() == 1


def test_follows_and_blocks_arriving_together_leave_the_newest_decision(line):
    base = line._base_event("follow", ALICE)["timestamp"] - 60_000

    def event(i: int) -> dict:
        e = line._base_event("follow" if i % 2 == 0 else "unfollow", ALICE, reply=False)
        e["timestamp"] = base + i * 1000  # the last (i = 9) is an unfollow
        return e

    events = [event(i) for i in range(10)]
    responses = run_concurrently(lambda i: _post(events[9 - i]), 10)  # newest first, all at once
    assert [getattr(r, "status_code", r) for r in responses] == [200] * 10
    follower = LineFollower.objects.get(line_user_id=ALICE)
    assert not follower.follows
    assert int(follower.follow_changed_at.timestamp() * 1000) == base + 9000
