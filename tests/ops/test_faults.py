"""Faults under load, on the real stack: gunicorn, a Celery worker per queue and beat as `make serve`
runs them (deploy/Procfile), against a private PostgreSQL cluster and a private Redis started here.

Clients record orders with Idempotency-Keys and retry on errors as a real integration does; a
campaign goes out to a local SMTP sink. In the middle, the mail worker is killed with SIGKILL while
mails are in flight and started again, then PostgreSQL is restarted. Afterwards: every 2xx answer has
its order, every request has exactly one, nobody got a mail twice, everybody got theirs, and
`check_points` / `check_stock` find ledgers and balances in agreement.
"""

import asyncio
import json
import os
import random
import threading
import time
import uuid
from collections import Counter

import pytest

from tests.campaigns.smtp_sink import CountingHandler, start_sink

from .stack import Http, PrivatePostgres, PrivateRedis, Processes, free_port, manage, seed, wait_until

pytestmark = pytest.mark.faults
CUSTOMERS = 300
CLIENTS = 4
RETRY = {0, 409, 429, 500, 502, 503, 504}  # no answer, in progress, throttled, server or gateway errors


class PausableSink(CountingHandler):
    """While paused, every mail waits at the end of DATA; on resume the waiting ones are refused with
    451 (their sender is dead by then), as a real server drops a message whose client went away."""

    def __init__(self):
        super().__init__()
        self.paused = threading.Event()
        self.resumed = threading.Event()
        self.held = 0

    async def handle_DATA(self, server, session, envelope):
        if self.paused.is_set():
            with self.lock:
                self.held += 1
            await asyncio.get_running_loop().run_in_executor(None, self.resumed.wait, 120)
            return "451 4.3.0 sender went away"
        return await super().handle_DATA(server, session, envelope)

    def total(self) -> int:
        with self.lock:
            return sum(self.accepted.values())


class OrderClient(threading.Thread):
    """Sends orders one after another; each is retried with the same key and body until it gets an
    answer that is not an error, as an EC site's outbox would."""

    def __init__(self, n: int, http: Http, made: dict, stop: threading.Event):
        super().__init__(daemon=True)
        self.n, self.http, self.made, self.stop = n, http, made, stop
        self.results: dict[str, dict] = {}  # external_ref -> {answers: [(status, id)], final}
        self.statuses = Counter()

    def run(self):
        rng = random.Random(self.n)
        i = 0
        while not self.stop.is_set():
            i += 1
            ref = f"C{self.n}-{i}"
            channel = "store" if i % 2 else "ec"
            body = {
                "source": "fault", "external_ref": ref, "channel": channel,
                "store": self.made["store"] if channel == "store" else None,
                "customer": rng.choice(self.made["customers"]), "ordered_at": "2026-11-20T14:05:00+09:00",
                "lines": [{"sku": rng.choice(self.made["skus"]), "quantity": rng.randint(1, 3), "unit_price": 3000}],
            }  # fmt: skip
            self.results[ref] = self.send(ref, body)

    def send(self, ref: str, body: dict) -> dict:
        answers, deadline, pause = [], time.monotonic() + 150, 0.2
        while time.monotonic() < deadline:
            status, answer = self.http.json("POST", "/api/v1/orders/", body, headers={"Idempotency-Key": f"key-{ref}"})
            self.statuses[status] += 1
            order_id = answer.get("id") if isinstance(answer, dict) else None
            answers.append((status, order_id))
            if status not in RETRY:
                return {"answers": answers, "final": status, "id": order_id}
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        return {"answers": answers, "final": None, "id": None}


def test_worker_killed_and_database_restarted_under_load_lose_and_double_nothing(tmp_path):
    started = time.monotonic()
    postgres = PrivatePostgres().init()
    postgres.start()
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    sink = PausableSink()
    smtp = start_sink(sink)
    processes = None
    try:
        postgres.sql("CREATE DATABASE tsunagu")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.ops.stack_settings", "DEBUG": "false",
            "SECRET_KEY": uuid.uuid4().hex * 2, "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": postgres.url("tsunagu"), "CELERY_BROKER_URL": redis.url(0), "CACHE_URL": redis.url(1),
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "HOST": f"127.0.0.1:{free_port()}",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "WEB_CONCURRENCY": "2",
            "WORKER_DEFAULT_CONCURRENCY": "1", "WORKER_MAIL_THREADS": "4", "CONN_MAX_AGE": "60",
        }  # fmt: skip
        env.pop("PYTEST_XDIST_WORKER", None)
        (tmp_path / "metrics").mkdir()
        # a fresh cluster: no need to wait for the disk while building the schema
        migrated = manage({**env, "PGOPTIONS": "-c synchronous_commit=off"}, "migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        made = seed(env, customers=CUSTOMERS, throttle=10)

        processes = Processes(env, tmp_path / "logs")
        processes.start()
        http = Http(f"http://{env['HOST']}", made["api_key"])
        wait_until(lambda: http.request("GET", "/readyz", timeout=5)[0] == 200, 120, "/readyz")

        stop = threading.Event()
        clients = [OrderClient(n, http, made, stop) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        status, _ = http.json("POST", f"/api/v1/campaigns/{made['campaign']}/send/")
        assert status == 202

        # 1. SIGKILL the mail worker while mails are in flight (held at the end of DATA)
        wait_until(lambda: sink.total() >= 40, 120, "the first 40 mails")
        sink.paused.set()
        wait_until(lambda: sink.held >= 1, 30, "a mail in flight")
        time.sleep(1.0)  # the worker's other threads reach their DATA too
        processes.kill("worker-mail")
        sink.paused.clear()
        sink.resumed.set()
        held_at_kill = sink.held
        processes.start("worker-mail")

        # 2. restart PostgreSQL while orders and mails keep coming
        at_kill = sink.total()
        wait_until(lambda: sink.total() >= at_kill + 40, 120, "mails after the worker came back")
        restart_started = time.monotonic()
        postgres.restart()
        restart_seconds = time.monotonic() - restart_started
        time.sleep(10)  # clients and workers carry on against the restarted database
        stop.set()
        for client in clients:
            client.join(200)
        assert not any(client.is_alive() for client in clients), "an order client hung"

        def recipients_by_state():
            out = postgres.sql("SELECT state, count(*) FROM campaigns_campaignrecipient GROUP BY state", "tsunagu")
            return dict(line.split("|") for line in out.splitlines())

        wait_until(lambda: set(recipients_by_state()) == {"sent"}, 240, "every campaign mail to be sent", 1)

        # every request got a 2xx answer in the end, and each answer names the one row of its reference
        results = {ref: result for client in clients for ref, result in client.results.items()}
        statuses = sum((client.statuses for client in clients), Counter())
        not_done = {ref: r["answers"][-3:] for ref, r in results.items() if r["final"] not in (200, 201)}
        assert not not_done, f"requests that never succeeded: {not_done}"
        rows = postgres.sql("SELECT external_ref, public_id FROM crm_order WHERE source = 'fault'", "tsunagu")
        orders = [line.split("|") for line in rows.splitlines()]
        by_ref = Counter(ref for ref, _ in orders)
        assert set(by_ref) == set(results), "orders written without a request, or requests without an order"
        assert max(by_ref.values()) == 1, "an order recorded twice"
        order_ids = dict(orders)
        for ref, result in results.items():
            for status, order_id in result["answers"]:
                if 200 <= status < 300:
                    assert order_id == order_ids[ref], f"{ref}: a 2xx answer named another order"

        # nobody mailed twice, everybody mailed
        assert dict(sink.accepted) == dict.fromkeys(made["emails"], 1)

        for command in ("check_points", "check_stock"):
            checked = manage(env, command)
            assert checked.returncode == 0, f"{command}: {checked.stdout[-2000:]} {checked.stderr[-2000:]}"

        marked_after_error = processes.log("worker-mail").count("marked sent after a database error")
        print(  # the figures of the run, for the README and the report
            json.dumps({
                "orders": len(results), "answers_by_status": dict(statuses), "mails": sink.total(),
                "held_at_kill": held_at_kill, "marked_sent_after_db_error": marked_after_error,
                "pg_restart_s": round(restart_seconds, 1), "total_s": round(time.monotonic() - started),
            })
        )  # fmt: skip
    finally:
        if processes is not None:
            processes.stop()
        smtp.stop()
        redis.stop()
        postgres.remove()
