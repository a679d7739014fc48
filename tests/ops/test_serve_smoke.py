"""`make serve` as an operator runs it: PostgreSQL (a fresh database it creates) and a Redis that is
installed but not running (make serve starts it); waits for /readyz, records an order, sends a small
campaign through the real mail worker to a local SMTP sink, reads /metrics, stops cleanly."""

import os
import re
import signal
import subprocess
import time
import uuid

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.campaigns.smtp_sink import CountingHandler, start_sink

from .stack import ROOT, Http, free_port, seed, wait_until

pytestmark = pytest.mark.serve
DATABASE_URL = os.environ.get("SMOKE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_serve_smoke")


def _drop_database():
    base, name = DATABASE_URL.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def metric_samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def test_make_serve_records_an_order_sends_a_campaign_and_stops_cleanly(tmp_path):
    _drop_database()
    sink_handler = CountingHandler()
    sink = start_sink(sink_handler)
    web, redis_port = f"127.0.0.1:{free_port()}", free_port()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "HOST": web, "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0", "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}", "SECRET_KEY": uuid.uuid4().hex * 2, "METRICS_TOKEN": token,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "WEB_CONCURRENCY": "2",
        "WORKER_DEFAULT_CONCURRENCY": "1", "TSUNAGU_BASE_URL": "https://crm.shop.example",
        "TSUNAGU_SENDER_ADDRESS": "〒150-0001 東京都渋谷区神宮前1-1-1",  # the marketing mails' sender (crm.W001)
        "CAMPAIGNS_QUIET_HOURS": "off",  # the campaign is sent whatever the hour CI runs at
    }  # fmt: skip
    for key in ("DEBUG", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE"):
        env.pop(key, None)
    output = open(tmp_path / "serve.log", "wb")
    serve = subprocess.Popen(["make", "serve"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                             start_new_session=True)  # fmt: skip
    client = Http(f"http://{web}")
    try:
        wait_until(lambda: client.request("GET", "/readyz", timeout=5)[0] == 200 if serve.poll() is None else
                   pytest.fail((tmp_path / "serve.log").read_text()[-5000:]), 240, "/readyz")  # fmt: skip
        log = (tmp_path / "serve.log").read_text()
        assert "System check identified no issues" in log  # check --deploy is clean as make serve runs
        assert "starting a local Redis" in log

        made = seed(env, customers=5)
        client.api_key = made["api_key"]
        order_request_id = str(uuid.uuid4())
        status, order = client.json("POST", "/api/v1/orders/", {
            "source": "pos", "external_ref": "SMOKE-1", "channel": "store", "store": made["store"],
            "customer": made["customers"][0], "ordered_at": "2026-11-20T14:05:00+09:00",
            "lines": [{"sku": made["skus"][0], "quantity": 2, "unit_price": 3000}],
        }, headers={"Idempotency-Key": "smoke-1", "X-Request-ID": order_request_id})  # fmt: skip
        assert status == 201, order
        assert order["total"] == 6000 and order["id"].startswith("ord_")

        send_request_id = str(uuid.uuid4())
        status, headers, _ = client.request("POST", f"/api/v1/campaigns/{made['campaign']}/send/",
                                            headers={"X-Request-ID": send_request_id})  # fmt: skip
        assert status == 202
        assert headers["X-Request-ID"] == send_request_id
        wait_until(lambda: client.json("GET", f"/api/v1/campaigns/{made['campaign']}/")[1]["status"] == "sent", 120,
                   "the campaign to be sent")  # fmt: skip
        assert dict(sink_handler.accepted) == dict.fromkeys(made["emails"], 1)

        assert client.request("GET", "/metrics")[0] == 401  # a token is set: loopback alone is not enough
        status, _, body = client.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
        assert status == 200
        found = metric_samples(body.decode())
        assert found[("tsunagu_orders_recorded_total", (("channel", "store"),))] == 1
        assert found[("tsunagu_mails_total", (("outcome", "sent"),))] == 5
        assert found[("tsunagu_celery_tasks_total", (("outcome", "success"), ("task", "campaigns.send_batch")))] >= 1
        view = (("method", "POST"), ("status", "201"), ("view", "api-orders"))
        assert found[("django_http_responses_total_by_status_view_method_total", view)] == 1
        assert found[("django_db_query_duration_seconds_count", (("alias", "default"), ("vendor", "postgresql")))] > 0
        assert found[("tsunagu_celery_queue_length", (("queue", "mail"),))] == 0

        # the request id of the send reached the mail worker's log lines of that campaign
        log = (tmp_path / "serve.log").read_text()
        mail_lines = [line for line in log.splitlines() if re.match(r"^\S+ worker-mail\.\d+ +\|", line)]
        assert any(send_request_id in line and "campaign" in line for line in mail_lines), mail_lines[-20:]
    finally:
        pids = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", (tmp_path / "serve.log").read_text())]
        os.killpg(serve.pid, signal.SIGTERM)  # as Ctrl-C or systemd's stop would
        serve.wait(60)
        time.sleep(1)
        alive = [pid for pid in pids if _alive(pid)]
        subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"], capture_output=True)
        sink.stop()
        _drop_database()
    assert pids and not alive, f"processes left running after stop: {alive}"
    assert "stopped" in (tmp_path / "serve.log").read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
