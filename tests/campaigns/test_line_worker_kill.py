"""A real Celery worker against Redis and PostgreSQL sends a LINE campaign to the fake LINE API and is
killed with SIGKILL while LINE holds one of its multicast requests; LINE then accepts that request
(the worst case: delivered, but the worker died before recording it). The restarted worker sends the
batch again with the same retry key, LINE answers 409, and every follower got exactly one message."""

import os

import pytest
import redis
from celery import Celery
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services import start_campaign
from channels_hub.line.fake import FakeLine
from channels_hub.line.models import LineFollower
from channels_hub.line.services import configure_line_account
from tests.channels_hub.line_support import user_id
from tests.crm.factories import IdentityFactory

from .factories import CampaignFactory, CustomerFactory, SegmentFactory
from .test_worker_kill import REDIS_URL, _kill, _redis_up, _start_worker, _wait


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_killed_while_line_holds_a_request_messages_everyone_exactly_once():
    if not _redis_up():
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    fake = FakeLine(access_token="kill-test-token").start()
    fake.hold_at = 3  # the first request of the second batch
    account, _created = configure_line_account(
        name="killtest", channel_secret="s", access_token="kill-test-token", api_base=fake.base_url
    )
    followers = []
    for n in range(1, 51):
        customer = CustomerFactory()
        IdentityFactory(customer=customer, channel="line", external_id=user_id(n))
        following = n <= 45
        LineFollower.objects.create(
            account=account, line_user_id=user_id(n), follows=following, follow_changed_at=timezone.now()
        )
        if following:
            followers.append(user_id(n))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.campaigns.worker_settings",
        "WORKER_DB_NAME": connection.settings_dict["NAME"],
        "WORKER_BROKER_URL": REDIS_URL,
        "WORKER_SMTP_PORT": "1",  # no mail in this campaign
    }
    worker = _start_worker(env)
    restarted = None
    try:
        everyone = SegmentFactory(rules={"field": "prefecture", "op": "eq", "value": "東京都"})
        campaign = CampaignFactory(segment=everyone, channel="line", line_account=account, line_text="冬のセール")
        campaign = start_campaign(campaign=campaign, dispatch=False)

        Celery("kill-test", broker=REDIS_URL).send_task("campaigns.dispatch_campaign", args=[campaign.pk], queue="mail")
        assert fake.holding.wait(120), "the worker never reached the held request"
        _kill(worker)
        fake.release.set()  # LINE accepts the held request now, but nobody hears the answer
        _wait(lambda: len(fake.api_requests("/multicast")) >= 3, 10, "LINE to accept the held request")
        done_before = CampaignRecipient.objects.filter(campaign=campaign, state="sent").count()
        assert done_before == 10  # the first batch; the held request's rows were rolled back
        restarted = _start_worker(env)
        _wait(lambda: Campaign.objects.get(pk=campaign.pk).status == "sent", 90, "the campaign to finish")
    finally:
        for process in (worker, restarted):
            if process is not None and process.poll() is None:
                _kill(process)
        fake.stop()

    assert fake.delivery_counts() == dict.fromkeys(followers, 1)
    assert [r["status"] for r in fake.api_requests("/multicast")].count(409) == 1  # the held request, sent again
    assert CampaignRecipient.objects.filter(campaign=campaign, state="sent").count() == 45
    assert CampaignRecipient.objects.filter(campaign=campaign, state="suppressed").count() == 5
