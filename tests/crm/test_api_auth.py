"""Api-Key authentication, scopes, staff sessions, throttling, idempotency and the schema."""

import pytest
from rest_framework.test import APIClient

from crm.models import ApiKey, IdempotencyRecord, Product
from crm.scopes import SCOPES
from crm.services import create_api_key, revoke_api_key
from tests.mfa import login_as

from .factories import StoreFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_with(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.mark.parametrize(
    "header", [None, "Api-Key", "Api-Key wrong", "Api-Key a b", "Bearer something", "Api-Key tsu_00000000_x"]
)
def test_missing_or_invalid_key_is_401_problem(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/stores/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Api-Key")
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")


def test_valid_key_without_the_scope_is_403():
    _, raw = create_api_key(name="pos", scopes=["orders:write"])
    response = client_with(raw).get("/api/v1/stores/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_read_scope_does_not_allow_writes():
    _, raw = create_api_key(name="reader", scopes=["customers:read"])
    response = client_with(raw).post("/api/v1/customers/", {"family_name": "x"}, format="json")
    assert response.status_code == 403


def test_revoked_key_is_401():
    key, raw = create_api_key(name="old", scopes=["catalog:read"])
    assert client_with(raw).get("/api/v1/stores/").status_code == 200
    revoke_api_key(api_key=key)
    assert client_with(raw).get("/api/v1/stores/").status_code == 401


def test_only_a_hash_of_the_key_is_stored():
    key, raw = create_api_key(name="ec", scopes=list(SCOPES))
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.key_hash, stored.prefix, stored.name)
    assert raw.split("_")[1] == stored.prefix
    assert set(stored.scopes) == set(SCOPES)  # campaigns' scopes can be granted from the start


def test_unknown_scope_is_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        create_api_key(name="x", scopes=["everything"])
    assert not ApiKey.objects.exists()


def test_staff_session_may_call_the_api_within_its_role(client):
    StoreFactory()
    staff = UserFactory(role="store_staff")
    marketer = UserFactory(role="marketer")
    login_as(client, staff)
    assert client.get("/api/v1/customers/").status_code == 200
    assert client.get("/api/v1/stores/").status_code == 200
    login_as(client, marketer)
    assert client.get("/api/v1/customers/").status_code == 200
    response = client.post("/api/v1/customers/", {"family_name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_session_writes_need_the_csrf_token():
    staff = UserFactory(role="store_staff")
    client = APIClient(enforce_csrf_checks=True)
    login_as(client, staff)
    response = client.post("/api/v1/customers/", {"family_name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_throttled_key_gets_429_with_retry_after(settings):
    from crm.api.auth import ApiKeyRateThrottle

    original = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "3/min"}
    try:
        _, raw = create_api_key(name="busy", scopes=["catalog:read"])
        client = client_with(raw)
        statuses = [client.get("/api/v1/stores/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = client.get("/api/v1/stores/")
        assert response.json()["code"] == "throttled"
        assert int(response["Retry-After"]) > 0
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = original


def test_unknown_api_path_is_a_problem_404(api):
    response = api("catalog:read").get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


# --- Idempotency-Key ------------------------------------------------------------------------
PRODUCT = {"name": "コート", "price": 1000}


def test_same_key_same_body_replays_the_original_answer(api):
    writer = api("catalog:write")
    first = writer.put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    Product.objects.filter(sku="P-1").update(price=5)  # a later change must not leak into the replay
    again = writer.put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Product.objects.get(sku="P-1").price == 5  # nothing applied twice


def test_same_key_different_body_is_422_conflict_and_writes_nothing(api):
    writer = api("catalog:write")
    writer.put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = writer.put("/api/v1/products/P-1/", {**PRODUCT, "price": 9}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_conflict"
    assert Product.objects.get(sku="P-1").price == 1000


def test_keys_are_per_caller(api):
    a, b = api("catalog:write"), api("catalog:write")
    a.put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = b.put("/api/v1/products/P-2/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201
    assert Product.objects.count() == 2


def test_a_failed_request_does_not_burn_the_key(api):
    writer = api("catalog:write")
    bad = writer.put("/api/v1/products/P-1/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    good = writer.put("/api/v1/products/P-1/", {"name": "x"} | {"price": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert good.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_idempotency_key_length_is_checked(api, key):
    response = api("catalog:write").put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Product.objects.exists()


def test_expired_key_is_treated_as_new(api, settings):
    import datetime as dt

    writer = api("catalog:write")
    writer.put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get().created_at - dt.timedelta(hours=25))
    response = writer.put("/api/v1/products/P-1/", {**PRODUCT, "price": 7}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 200
    assert Product.objects.get(sku="P-1").price == 7


def test_in_progress_duplicate_gets_409(api, settings, monkeypatch):
    from crm.api import idempotency

    monkeypatch.setattr(idempotency, "_WAIT_SECONDS", 0.1)
    writer = api("catalog:write")
    owner_key = ApiKey.objects.get()
    from django.utils import timezone

    IdempotencyRecord.objects.create(
        owner=f"key:{owner_key.pk}",
        key="k1",
        method="PUT",
        path="/api/v1/products/P-1/",
        request_hash=_fingerprint("PUT", "/api/v1/products/P-1/", PRODUCT),
        created_at=timezone.now(),
    )
    response = writer.put("/api/v1/products/P-1/", PRODUCT, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert not Product.objects.exists()


def _fingerprint(method, path, body):
    from types import SimpleNamespace

    from crm.api.idempotency import request_fingerprint

    return request_fingerprint(SimpleNamespace(method=method, path=path, data=body))


# --- OpenAPI --------------------------------------------------------------------------------
def test_schema_and_docs_are_public_and_describe_the_contract(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/stores/",
        "/api/v1/products/",
        "/api/v1/products/{sku}/",
        "/api/v1/customers/",
        "/api/v1/customers/{customer_id}/",
        "/api/v1/customers/resolve/",
        "/api/v1/customers/link/",
        "/api/v1/customers/{customer_id}/timeline/",
        "/api/v1/customers/{customer_id}/recommendations/",
        "/api/v1/orders/",
        "/api/v1/orders/{order_id}/",
        "/api/v1/orders/{order_id}/returns/",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/customers/"]) >= {"get", "post"}
    assert client.get("/api/schema/?format=json").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
