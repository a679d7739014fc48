"""Logs: JSON lines with the request id (taken from X-Request-ID or made, and returned), and no
personal data: a realistic day's flow runs and its whole log output is searched for the customers'
emails, phones and names."""

import io
import json
import logging
import re
import uuid

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.utils.log import configure_logging

from tests.crm.factories import ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = pytest.mark.django_db

PEOPLE = [
    # family, given, kana, email, phone as typed, E.164
    ("山田", "太郎", "ヤマダ", "taro.yamada@example.jp", "090-1111-2222", "+819011112222"),
    ("佐藤", "美咲", "サトウ", "misaki.sato@mail.example.com", "080 3333 4444", "+818033334444"),
    ("鈴木", "一郎", "スズキ", "ichiro-suzuki@example.org", "(070) 5555-6666", "+817055556666"),
]
LEAD = ("高橋", "直子", "naoko.takahashi@example.net", "+819077778888")


@pytest.fixture
def captured_logs(settings):
    """The production log configuration (JSON lines, LOG_LEVEL=INFO), plus DEBUG for Tsunagu's own
    loggers, written to a buffer; restored afterwards."""
    buffer = io.StringIO()
    config = json.loads(json.dumps(django_settings.LOGGING, default=str))
    config["formatters"]["json"] = {"()": "crm.ops.logs.Formatter"}
    config["handlers"]["console"] = {
        "class": "logging.StreamHandler", "stream": buffer, "formatter": "json",
        "filters": ["request_id", "celery_task", "request_path"],
    }  # fmt: skip
    config["root"]["level"] = "INFO"
    for app in ("crm", "loyalty", "inventory", "channels_hub", "campaigns", "tsunagu"):
        config["loggers"][app] = {"level": "DEBUG"}
    settings.LOGGING = config
    configure_logging(settings.LOGGING_CONFIG, config)
    yield buffer
    configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)
    for app in ("crm", "loyalty", "inventory", "channels_hub", "campaigns", "tsunagu"):
        logging.getLogger(app).setLevel(logging.NOTSET)


def test_a_request_id_from_x_request_id_is_kept_and_returned(client, captured_logs, settings):
    settings.ACCESS_LOG = True
    given = str(uuid.uuid4())
    response = client.get("/api/v1/customers/", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] == given
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "tsunagu.access"]
    assert access and access[-1]["request_id"] == given
    assert access[-1]["route"] == "api/v1/customers/" and access[-1]["status"] == 401
    assert {"time", "level", "logger", "message"} <= access[-1].keys()


@pytest.mark.parametrize("given", [None, "", "not-a-uuid", "x" * 5000, "a\nb"])
def test_without_a_usable_x_request_id_one_is_made_and_returned(client, given):
    headers = {"HTTP_X_REQUEST_ID": given} if given is not None else {}
    first = client.get("/api/v1/customers/", **headers)["X-Request-ID"]
    second = client.get("/api/v1/customers/", **headers)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_the_request_id_travels_with_the_celery_tasks_a_request_queues():
    """What django-guid does on both sides of the broker (tests/ops/test_serve_smoke.py reads the id
    back from the real mail worker's log)."""
    from django_guid import clear_guid, get_guid, set_guid
    from django_guid.integrations.celery.signals import publish_task_from_worker_or_request, worker_prerun

    given = str(uuid.uuid4())
    set_guid(given)  # what the middleware did for the request
    headers = {}
    publish_task_from_worker_or_request(headers=headers)  # Celery's before_task_publish
    assert headers["X-Request-ID"] == given
    clear_guid()

    class Task:  # the task as the worker sees it, with the message's headers
        request = headers

    worker_prerun(task=Task)  # Celery's task_prerun in the worker
    assert get_guid() == given
    clear_guid()


def test_a_days_work_logs_no_emails_phones_or_names(api, captured_logs, settings, django_capture_on_commit_callbacks):
    settings.TSUNAGU_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ACCESS_LOG = True
    store, warehouse = StoreFactory(code="SHIBUYA"), WarehouseFactory()
    coat = ProductFactory(sku="COAT-1", price=20000)
    stock(coat, warehouse)
    stock(coat, store)
    client = api(
        "customers:read", "customers:write", "orders:write", "hub:write", "campaigns:read", "campaigns:write",
        "loyalty:read", "loyalty:write", "inventory:write",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        ids = []
        for n, (family, given, kana, email, phone, _) in enumerate(PEOPLE):
            response = client.post("/api/v1/customers/", {
                "family_name": family, "given_name": given, "family_name_kana": kana, "given_name_kana": "タロウ",
                "email": email, "phone": phone, "prefecture": "東京都", "home_store": "SHIBUYA",
                "email_opt_in": True, "identities": [{"channel": "ec", "external_id": f"ec-{n}"}],
            }, format="json")  # fmt: skip
            assert response.status_code == 201, response.json()
            ids.append(response.json()["id"])
            # the same person again: a conflict answer must not echo them into the log either
            client.post("/api/v1/customers/", {"family_name": family, "given_name": given, "email": email,
                        "identities": [{"channel": "ec", "external_id": f"ec-{n}"}]}, format="json")  # fmt: skip
            # staff and integrations look people up by what the customer says
            for query in (email, phone, family + given, kana):
                assert client.get("/api/v1/customers/", {"q": query}).status_code == 200
            assert client.get("/api/v1/hub/caller/", {"phone": phone}).status_code == 200
            client.get("/api/v1/customers/", {"email": email.upper() + "x"})
            client.get(f"/api/v1/customers/{email}/")  # a mistaken integration puts the email in the path

        for n, customer_id in enumerate(ids):
            for channel, store_code in (("store", "SHIBUYA"), ("ec", None)):
                body = {
                    "source": "pos" if channel == "store" else "ec", "external_ref": f"{channel}-{n}",
                    "channel": channel, "store": store_code, "customer": customer_id,
                    "ordered_at": "2026-11-20T14:05:00+09:00",
                    "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}],
                }  # fmt: skip
                response = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{channel}-{n}")
                assert response.status_code == 201, response.json()
            client.post("/api/v1/orders/", {**body, "lines": [{"sku": "NOPE", "quantity": 1, "unit_price": 1}],
                                            "external_ref": "bad"}, format="json")  # fmt: skip
            client.post(f"/api/v1/loyalty/{customer_id}/redeem/",
                        {"points": 10_000_000, "reference": f"r-{n}", "channel": "store"}, format="json")  # fmt: skip

        family, given, email, phone = LEAD  # someone who is not a customer yet writes in, by email and by phone
        for n, sender in enumerate(({"email": email, "name": f"{family} {given}"}, {"phone": phone, "name": family})):
            response = client.post("/api/v1/hub/messages/", {
                "channel": "email" if "email" in sender else "phone", "external_message_id": f"in-{n}",
                "sender": sender, "subject": "問い合わせ", "body": f"{family}です。連絡先は {email} / {phone}",
                "sent_at": "2026-11-20T10:00:00+09:00",
            }, format="json")  # fmt: skip
            assert response.status_code == 201, response.json()
        for n, (_, _, _, email, _, _) in enumerate(PEOPLE):
            response = client.post("/api/v1/hub/messages/", {
                "channel": "email", "external_message_id": f"known-{n}", "sender": {"email": email},
                "body": "コートのサイズ交換をお願いします", "sent_at": "2026-11-20T11:00:00+09:00",
            }, format="json")  # fmt: skip
            assert response.status_code == 201, response.json()

        rules = {"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]}
        segment = client.post("/api/v1/segments/", {"name": "東京", "rules": rules}, format="json").json()["id"]
        campaign = client.post("/api/v1/campaigns/", {
            "name": "冬のセール", "segment": segment, "subject": "{{ customer.family_name }}様へ",
            "from_email": "Shop <news@shop.example>",
            "body_text": "{{ customer.family_name }} {{ customer.given_name }}様 {{ unsubscribe_url }}",
        }, format="json").json()["id"]  # fmt: skip
        assert client.post(f"/api/v1/campaigns/{campaign}/send/").status_code == 202

    assert len(mail.outbox) == len(PEOPLE)
    output = captured_logs.getvalue()
    assert "order recorded" in output and "tsunagu.access" in output  # the flow was logged
    for line in output.splitlines():
        json.loads(line)  # every line is one JSON object
    secrets = set()
    for family, given, kana, email, phone, e164 in PEOPLE:
        secrets |= {email, email.split("@")[0], email.upper(), phone, e164, e164[3:], family + given, kana}
        secrets |= {json.dumps(family)[1:-1], json.dumps(family + " " + given)[1:-1]}  # as JSON escapes them
    family, given, email, phone = LEAD
    secrets |= {email, email.split("@")[0], phone, phone[3:], family, json.dumps(family)[1:-1]}
    secrets |= {"0" + e164[3:] for *_, e164 in PEOPLE}
    leaked = sorted(secret for secret in secrets if secret.lower() in output.lower())
    assert not leaked, f"personal data in the logs: {leaked}"
