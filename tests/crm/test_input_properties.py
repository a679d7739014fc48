"""Property-based tests (hypothesis) over the API's input serializers and the staff and public forms:
whatever values arrive — NUL bytes, unpaired surrogates, huge or negative numbers, deep nesting, wrong
types — the answer is a clear 4xx (or success), never a server error (audit finding 6)."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.forms import CampaignForm, PreviewRulesForm, ScheduleForm, SegmentForm, TestSendForm
from channels_hub.forms import ContactForm, CsatForm, LinkLeadForm, MergeTicketForm, ReplyForm, TicketUpdateForm
from crm.forms import SearchForm
from inventory.forms import ReservationForm, ResolveDiscrepancyForm, StockSearchForm
from loyalty.forms import CounterForm
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

# Text with everything that has broken servers: NUL, unpaired surrogates, emoji, full-width digits.
hostile_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.sampled_from(["\x00", "\ud800", "\udfff", "０", "😀"])),
    max_size=40,
)
scalars = st.one_of(
    st.none(), st.booleans(), hostile_text,
    st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["9999-12-31T23:59:59+09:00", "0001-01-01T00:00:00+14:00", "2026-02-30", "1990-04-01"]),
)  # fmt: skip
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=8
)


def body_for(fields: list[str]):
    """Dicts with the endpoint's own field names (so validation goes deep) and now and then a stranger."""
    return st.dictionaries(st.sampled_from([*fields, "unknown"]), json_values, max_size=len(fields) + 1)


ENDPOINTS = {
    "/api/v1/customers/": ["member_number", "family_name", "email", "phone", "birth_date", "home_store", "identities"],
    "/api/v1/customers/link/": ["channel", "external_id", "member_number", "birth_date", "phone"],
    "/api/v1/orders/": ["source", "external_ref", "channel", "store", "customer", "customer_identity", "ordered_at",
                        "lines", "redeem_points"],
    "/api/v1/segments/preview/": ["rules"],
    "/api/v1/campaigns/": ["name", "segment", "subject", "from_email", "body_text", "body_html", "holdout_percent"],
    "/api/v1/inventory/reservations/": ["sku", "store", "quantity", "kind", "customer", "slot_start"],
    "/api/v1/inventory/stock-sync/": ["store", "counts"],
    "/api/v1/hub/messages/": ["channel", "external_message_id", "sender", "subject", "body", "sent_at", "thread_ref"],
    "/api/v1/hub/handoff/": ["conversation_id", "sender", "transcript", "reason"],
}  # fmt: skip


@pytest.fixture
def everything(api):
    StoreFactory(code="SHB"), ProductFactory(sku="COAT-1")
    return api(
        "customers:write", "orders:write", "campaigns:read", "campaigns:write", "inventory:write", "hub:write",
        "loyalty:write",
    )  # fmt: skip


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_no_json_body_makes_a_server_error(everything, path):
    @PROPERTY
    @given(body=body_for(ENDPOINTS[path]))
    def check(body):
        raw = json.dumps(body, ensure_ascii=True).encode()  # \ud800 and \u0000 travel as JSON escapes
        response = everything.generic("POST", path, raw, content_type="application/json")
        assert response.status_code < 500, (body, response.content[:300])
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json"

    check()


def test_no_points_body_makes_a_server_error(everything):
    customer = CustomerFactory()

    @PROPERTY
    @given(action=st.sampled_from(["redeem", "adjust"]), body=body_for(["points", "reason", "reference", "channel"]))
    def check(action, body):
        raw = json.dumps(body).encode()
        response = everything.generic("POST", f"/api/v1/loyalty/{customer.public_id}/{action}/", raw,
                                      content_type="application/json")  # fmt: skip
        assert response.status_code < 500, (body, response.content[:300])

    check()


FORMS = [
    ContactForm, CounterForm, CampaignForm, PreviewRulesForm, ScheduleForm, SegmentForm, TestSendForm, ReplyForm,
    TicketUpdateForm, MergeTicketForm, LinkLeadForm, CsatForm, SearchForm, ReservationForm,
    ResolveDiscrepancyForm, StockSearchForm,
]  # fmt: skip


@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f.__name__)
def test_no_form_input_makes_a_form_raise(form_class):
    fields = list(form_class.base_fields)

    @PROPERTY
    @given(data=st.dictionaries(st.sampled_from(fields), hostile_text | st.integers(-(2**70), 2**70).map(str)))
    def check(data):
        form = form_class(data=data)
        valid = form.is_valid()  # must answer, not raise
        if valid:
            for value in form.cleaned_data.values():
                assert not (isinstance(value, str) and ("\x00" in value or "\ud800" in value))

    check()


def test_the_public_contact_form_never_answers_a_server_error():
    client = Client()
    printable = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)

    @PROPERTY
    @given(name=printable, email=printable, phone=printable, subject=printable, body=printable)
    def check(name, email, phone, subject, body):
        from django.core.cache import cache

        cache.clear()  # the per-client limit would answer 429 after a few examples
        data = {"name": name, "email": email, "phone": phone, "subject": subject, "body": body}
        assert client.post("/contact/", data).status_code in (200, 400, 429)

    check()
