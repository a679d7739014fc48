"""A real Celery worker against Redis and PostgreSQL, killed with SIGKILL while a mail of a batch is in
flight, then restarted: every opted-in customer gets exactly one mail."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services import start_campaign

from .factories import CampaignFactory, CustomerFactory, SegmentFactory
from .smtp_sink import CountingHandler, start_sink

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CAMPAIGNS_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _redis_up() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        return False


def _start_worker(env) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603  our own interpreter and fixed arguments
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "-Q", "mail", "-c", "1", "-l", "warning",
         "--without-mingle", "--without-gossip", "--without-heartbeat", "-n", f"kill-test-{time.time_ns()}@%h"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=open("/tmp/worker.err", "ab"),
    )  # fmt: skip


def _kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, no chance to ack or clean up
    worker.wait(10)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_killed_mid_batch_and_restarted_mails_everyone_exactly_once():
    if not _redis_up():
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    customers = CustomerFactory.create_batch(45)
    CustomerFactory.create_batch(5, email_opt_in=False)
    handler = CountingHandler(hold_at=17)  # the 7th mail of the second batch of 10
    sink = start_sink(handler)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.campaigns.worker_settings",
        "WORKER_DB_NAME": connection.settings_dict["NAME"],
        "WORKER_BROKER_URL": REDIS_URL,
        "WORKER_SMTP_PORT": str(sink.port),
    }
    worker = _start_worker(env)
    restarted = None
    try:
        everyone = SegmentFactory(rules={"field": "prefecture", "op": "eq", "value": "東京都"})
        campaign = start_campaign(campaign=CampaignFactory(segment=everyone), dispatch=False)

        Celery("kill-test", broker=REDIS_URL).send_task("campaigns.dispatch_campaign", args=[campaign.pk], queue="mail")
        assert handler.holding.wait(120), "the worker never reached the held mail"
        _kill(worker)
        handler.release.set()
        done_before = CampaignRecipient.objects.filter(campaign=campaign, state="sent").count()
        assert 0 < done_before < 45
        restarted = _start_worker(env)
        _wait(lambda: Campaign.objects.get(pk=campaign.pk).status == "sent", 90, "the campaign to finish")
    finally:
        for process in (worker, restarted):
            if process is not None and process.poll() is None:
                _kill(process)
        sink.stop()

    assert handler.accepted == {c.email: 1 for c in customers}
    assert set(
        CampaignRecipient.objects.filter(campaign=campaign, state="sent").values_list("attempts", flat=True)
    ) == {1}
    assert CampaignRecipient.objects.filter(campaign=campaign, state="suppressed").count() == 5
