"""/metrics: Prometheus text for this machine's processes, readable from loopback or with the token;
requests by view and status, latency, database time, orders, mails, Celery task outcomes, queues."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.core import mail
from django.core.mail import EmailMessage, get_connection
from django.db import connection
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from crm.ops import metrics
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def samples(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_answer_loopback_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_metrics_refuse_other_addresses_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="10.0.3.9")
    assert response.status_code == 403
    assert b"tsunagu" not in response.content


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic c2VjcmV0", "Bearer s3cret-token extra"])
def test_metrics_with_a_token_refuse_a_missing_or_wrong_one_even_from_loopback(client, settings, authorization):
    settings.METRICS_TOKEN = "s3cret-token"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_with_the_right_token_answer_any_address(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    response = client.get("/metrics", REMOTE_ADDR="10.0.3.9", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200


def test_an_order_shows_in_requests_latency_database_time_and_orders(client, api, django_capture_on_commit_callbacks):
    store, product = StoreFactory(code="SHIBUYA"), ProductFactory(sku="COAT-1")
    customer = CustomerFactory()
    view = {"method": "POST", "status": "201", "view": "api-orders"}
    before = {
        "responses": value("django_http_responses_total_by_status_view_method_total", **view),
        "latency": value("django_http_requests_latency_seconds_by_view_method_count", view="api-orders", method="POST"),
        "orders": value("tsunagu_orders_recorded_total", channel="store"),
    }
    body = {
        "source": "pos", "external_ref": "R-1", "channel": "store", "store": store.code,
        "customer": customer.public_id, "ordered_at": "2026-11-20T14:05:00+09:00",
        "lines": [{"sku": product.sku, "quantity": 1, "unit_price": 12000}],
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = api("orders:write").post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    found = samples(client.get("/metrics"))
    assert found[("django_http_responses_total_by_status_view_method_total", tuple(sorted(view.items())))] == (
        before["responses"] + 1
    )
    latency_key = (
        "django_http_requests_latency_seconds_by_view_method_count",
        (("method", "POST"), ("view", "api-orders")),
    )
    assert found[latency_key] == before["latency"] + 1
    assert found[("tsunagu_orders_recorded_total", (("channel", "store"),))] == before["orders"] + 1
    if connection.vendor == "postgresql":  # the metered backend is PostgreSQL's (SQLite is for development)
        assert found[("django_db_query_duration_seconds_count", (("alias", "default"), ("vendor", "postgresql")))] > 0

    # the same order again is answered with the original and is not counted twice
    with django_capture_on_commit_callbacks(execute=True):
        assert api("orders:write").post("/api/v1/orders/", body, format="json").status_code == 200
    assert value("tsunagu_orders_recorded_total", channel="store") == before["orders"] + 1


def test_a_refused_order_is_not_counted(api, django_capture_on_commit_callbacks):
    store = StoreFactory(code="SHIBUYA")
    before = value("tsunagu_orders_recorded_total", channel="store")
    body = {
        "source": "pos", "external_ref": "R-2", "channel": "store", "store": store.code,
        "ordered_at": "2026-11-20T14:05:00+09:00", "lines": [{"sku": "NO-SUCH-SKU", "quantity": 1, "unit_price": 1}],
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert api("orders:write").post("/api/v1/orders/", body, format="json").status_code == 400
    assert value("tsunagu_orders_recorded_total", channel="store") == before


def test_mails_sent_and_failed_are_counted_around_the_real_backend(settings):
    settings.EMAIL_BACKEND = "crm.ops.metrics.MeteredEmailBackend"
    settings.TSUNAGU_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sent, failed = value("tsunagu_mails_total", outcome="sent"), value("tsunagu_mails_total", outcome="failed")
    EmailMessage("件名", "本文", "shop@shop.example", ["a@example.jp"]).send()
    assert len(mail.outbox) == 1
    assert value("tsunagu_mails_total", outcome="sent") == sent + 1

    settings.TSUNAGU_EMAIL_BACKEND = "tests.crm.test_ops_metrics.RefusingBackend"
    with pytest.raises(ConnectionRefusedError):
        get_connection().send_messages([EmailMessage("s", "b", "f@shop.example", ["b@example.jp"])] * 2)
    assert value("tsunagu_mails_total", outcome="failed") == failed + 2
    assert value("tsunagu_mails_total", outcome="sent") == sent + 1


class RefusingBackend:
    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def test_celery_task_outcomes_are_counted_by_task_and_outcome(settings):
    from crm.tasks import purge_idempotency_records_task as purge_idempotency_records

    before = value("tsunagu_celery_tasks_total", task="crm.purge_idempotency_records", outcome="success")
    runs = value("tsunagu_celery_task_duration_seconds_count", task="crm.purge_idempotency_records")
    purge_idempotency_records.delay()
    assert value("tsunagu_celery_tasks_total", task="crm.purge_idempotency_records", outcome="success") == before + 1
    assert value("tsunagu_celery_task_duration_seconds_count", task="crm.purge_idempotency_records") == runs + 1


def test_queue_lengths_are_read_from_the_broker(client, settings):
    try:
        broker = redis.Redis.from_url(REDIS_URL)
        broker.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    settings.CELERY_BROKER_URL = REDIS_URL
    for queue in metrics.QUEUES:
        broker.delete(queue)
    broker.lpush("mail", b"{}", b"{}", b"{}")  # three messages waiting on the mail queue
    broker.sadd("_kombu.binding.mail", "mail\x06\x16\x06\x16mail")
    try:
        found = samples(client.get("/metrics"))
    finally:
        broker.delete("mail", "_kombu.binding.mail")
    assert found[("tsunagu_celery_broker_up", ())] == 1
    assert found[("tsunagu_celery_queue_length", (("queue", "mail"),))] == 3
    assert found[("tsunagu_celery_queue_length", (("queue", "default"),))] == 0


def test_metrics_say_the_broker_is_down_instead_of_failing(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    found = samples(client.get("/metrics"))
    assert found[("tsunagu_celery_broker_up", ())] == 0


def test_multiprocess_mode_adds_up_every_process_of_the_machine(tmp_path, monkeypatch):
    """gunicorn workers and Celery workers write to PROMETHEUS_MULTIPROC_DIR; a scrape sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "crm.settings"}
    script = (
        "import django; django.setup()\n"
        "from crm.ops import metrics\n"
        "metrics.orders_recorded.labels('ec').inc(2)\n"
        "metrics.mails.labels('sent').inc()\n"
    )
    for _ in range(2):  # two worker processes, one after the other, each gone when it is read
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)  # noqa: S603
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.exposition().decode()
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip
    assert found[("tsunagu_orders_recorded_total", (("channel", "ec"),))] == 4
    assert found[("tsunagu_mails_total", (("outcome", "sent"),))] == 2


def test_containers_writing_to_their_own_directories_are_summed_by_a_glob(tmp_path, monkeypatch, settings):
    """The compose file: web and each worker container write to /metrics/<service> (process ids repeat
    across containers), the web container reads /metrics/*."""
    script = "import django; django.setup()\nfrom crm.ops import metrics\nmetrics.mails.labels('sent').inc(3)\n"
    for service in ("web", "worker-mail"):
        env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / service),
            "DJANGO_SETTINGS_MODULE": "crm.settings",
        }
        (tmp_path / service).mkdir()
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)  # noqa: S603
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "web"))
    settings.METRICS_COLLECT_GLOB = str(tmp_path / "*")
    text = metrics.exposition().decode()
    assert 'tsunagu_mails_total{outcome="sent"} 6.0' in text
