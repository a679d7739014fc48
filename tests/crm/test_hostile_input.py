"""No input makes a 500 (audit finding 6): NUL bytes and unpaired surrogates are refused wherever
they come in, values are checked against what their columns hold, JSON nesting is limited, and a raw
email with odd bytes is taken in cleanly. Each case answers a clear 4xx naming the field and writes
nothing."""

import json

import pytest
from django.test import Client

from campaigns.models import Segment
from crm.models import Customer, Order
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, UserFactory
from tests.mfa import login_as

pytestmark = pytest.mark.django_db
SURROGATE = '"\\ud800"'  # a JSON string holding a lone surrogate, as an attacker would send it


def raw_post(client, path, body: str, content_type="application/json"):
    return client.generic("POST", path, body.encode("utf-8"), content_type=content_type)


def assert_refused(response, field, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["errors"], body


@pytest.fixture
def everything(api):
    return api(
        "customers:read", "customers:write", "orders:write", "campaigns:read", "campaigns:write",
        "inventory:read", "inventory:write", "hub:write", "loyalty:read", "loyalty:write", "catalog:read",
    )  # fmt: skip


@pytest.mark.parametrize("path", ["/api/v1/customers/cus_%00/", "/api/v1/orders/ord_%00x/", "/api/v1/loyalty/%00/"])
def test_nul_in_a_path_id_is_refused(everything, path):
    assert_refused(everything.get(path), "path")


@pytest.mark.parametrize("query", ["q=%00", "email=a%00b", "phone=%00", "member_number=1%000"])
def test_nul_in_a_query_string_is_refused(everything, query):
    response = everything.get(f"/api/v1/customers/?{query}")
    assert_refused(response, query.split("=")[0])


def test_nul_and_surrogates_in_json_values_are_refused_and_write_nothing(everything):
    assert_refused(raw_post(everything, "/api/v1/customers/", '{"family_name": "a\\u0000b"}'), "family_name")
    body = '{"family_name": S}'.replace("S", SURROGATE)
    assert_refused(raw_post(everything, "/api/v1/customers/", body), "family_name")
    body = '{"family_name": "x", "identities": [{"channel": "ec", "external_id": S}]}'.replace("S", SURROGATE)
    assert_refused(raw_post(everything, "/api/v1/customers/", body), "identities.0.external_id")
    assert not Customer.objects.exists()


def test_surrogates_in_segment_rule_values_are_refused(everything):
    rules = '{"rules": {"all": [{"field": "prefecture", "op": "eq", "value": S}]}}'.replace("S", SURROGATE)
    assert_refused(raw_post(everything, "/api/v1/segments/preview/", rules), "rules.all.0.value")
    rules = '{"name": "x", "rules": {"all": [{"field": "prefecture", "op": "in", "value": ["\\u0000"]}]}}'
    assert_refused(raw_post(everything, "/api/v1/segments/", rules), "rules.all.0.value.0")
    assert not Segment.objects.exists()


def test_nul_in_a_stock_sync_row_is_refused(everything):
    StoreFactory(code="SHB")
    body = '{"store": "SHB", "counts": [{"sku": "A\\u0000", "on_hand": 1}]}'
    assert_refused(raw_post(everything, "/api/v1/inventory/stock-sync/", body), "counts.0.sku")


def test_deeply_nested_json_is_refused(everything):
    deep = '{"rules": ' + '{"not": ' * 100_000 + "{}" + "}" * 100_000 + "}"
    response = raw_post(everything, "/api/v1/segments/preview/", deep)
    assert response.status_code == 400
    nested = '{"family_name": "x", "address": ' + "[" * 40 + "]" * 40 + "}"
    assert raw_post(everything, "/api/v1/customers/", nested).status_code == 400


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"field": "age", "op": "gte", "value": 10**12}, "rules.all.0.value"),
        ({"field": "days_since_last_purchase", "op": "gte", "value": 10**12}, "rules.all.0.value"),
        ({"field": "spend", "op": "gte", "value": 1, "within_days": 10**12}, "rules.all.0.within_days"),
    ],
)
def test_day_counts_and_ages_beyond_the_calendar_are_refused(everything, rule, path):
    response = everything.post("/api/v1/segments/preview/", {"rules": {"all": [rule]}}, format="json")
    assert_refused(response, path)


def _order(**changes):
    return {
        "source": "ec", "external_ref": "R-1", "channel": "ec", "ordered_at": "2026-01-05T10:00:00+09:00",
        "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 1000}], **changes,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ordered_at": "9999-12-31T23:59:59+09:00"}, "ordered_at"),
        ({"ordered_at": "0001-01-01T00:00:00+14:00"}, "ordered_at"),
        ({"lines": [{"sku": "COAT-1", "quantity": 100_000, "unit_price": 100_000_000}]}, "lines"),
        ({"lines": [{"sku": "COAT-1", "quantity": 30_000, "unit_price": 100_000}] * 2}, "lines"),
    ],
)
def test_orders_whose_values_do_not_fit_are_refused(everything, changes, field):
    StoreFactory(code="EC-WH", kind="warehouse")
    ProductFactory(sku="COAT-1")
    response = everything.post("/api/v1/orders/", _order(**changes), format="json")
    assert_refused(response, field)
    assert not Order.objects.exists()


def test_hub_message_dates_out_of_range_are_refused(everything):
    body = {"channel": "line", "external_message_id": "m1", "sender": {"channel": "line", "external_id": "U1"},
            "body": "hi", "sent_at": "0001-01-01T00:00:00+14:00"}  # fmt: skip
    assert_refused(everything.post("/api/v1/hub/messages/", body, format="json"), "sent_at")


def test_raw_email_with_undecodable_bytes_and_nul_is_taken_in_cleanly(everything):
    raw = (
        b"From: =?utf-8?b?" + b"7aCA" + b"?= <sender@example.jp>\r\nSubject: \xed\xa0\x80 \xff\xfe hello\r\n"
        b"Message-ID: <odd@example.jp>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"body \x00 with \xed\xa0\x80 bytes\r\n"
    )
    response = everything.generic("POST", "/api/v1/hub/email/", raw, content_type="message/rfc822")
    assert response.status_code == 201, response.content
    from channels_hub.models import Message

    message = Message.objects.get()
    assert "\x00" not in message.body and "hello" in message.ticket.subject
    assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in message.body + message.ticket.subject)


def test_nul_in_a_staff_form_field_or_page_query_is_refused(client):
    login_as(client, UserFactory(role="admin"))
    assert client.get("/customers/?q=%00").status_code == 400
    assert client.post("/loyalty/approvals/", {"adjustment": "adj_\x00", "decision": "approve"}).status_code == 400
    assert client.get(f"/customers/{CustomerFactory().public_id}%00/").status_code == 400


def test_nul_in_the_public_contact_form_is_refused():
    client = Client()
    response = client.post("/contact/", {"name": "x", "email": "a@b.jp", "subject": "s", "body": "a\x00b"})
    assert response.status_code == 400


def test_invalid_json_bodies_are_400_not_500(everything):
    for body in ("{", "[1,2", '{"a": NaN}', '{"a": 1e999999}', "\x00", '"\\udc00"'):
        assert raw_post(everything, "/api/v1/customers/", body).status_code == 400, body
    huge_number = '{"points": ' + "9" * 5000 + ', "reason": "x"}'
    customer = CustomerFactory()
    assert raw_post(everything, f"/api/v1/loyalty/{customer.public_id}/adjust/", huge_number).status_code == 400


def test_a_json_body_with_nul_in_a_key_is_refused(everything):
    assert raw_post(everything, "/api/v1/customers/", '{"fam\\u0000ily": "x"}').status_code == 400
    assert json.loads('"\\u0000"') == "\x00"  # what the guard is there for
