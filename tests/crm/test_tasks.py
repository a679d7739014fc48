import datetime as dt
import time

import pytest
from django.utils import timezone

from crm.models import IdempotencyRecord
from crm.tasks import purge_idempotency_records_task

pytestmark = pytest.mark.django_db


def make_record(key, age):
    IdempotencyRecord.objects.create(
        owner="key:1", key=key, method="POST", path="/", request_hash="x", created_at=timezone.now() - age
    )


def test_purge_forgets_only_keys_past_their_window_and_can_run_twice():
    make_record("old", dt.timedelta(hours=25))
    make_record("fresh", dt.timedelta(hours=1))
    assert purge_idempotency_records_task.delay().get() == 1
    assert purge_idempotency_records_task.delay().get() == 0
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.fixture
def redis_worker():
    """A real Celery worker (in a thread) consuming from Redis, as in production."""
    import os

    import redis
    from celery.contrib.testing.worker import start_worker

    from crm.celery import app

    url = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=url, task_always_eager=False)
    app._pool = app.amqp._producer_pool = None  # producers made before must not keep the old broker
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        app.conf.update(saved)
        app._pool = app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_purge_runs_on_a_real_worker_through_redis(redis_worker, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    make_record("old", dt.timedelta(hours=30))
    purge_idempotency_records_task.apply_async()
    deadline = time.monotonic() + 20
    while IdempotencyRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not IdempotencyRecord.objects.exists()
