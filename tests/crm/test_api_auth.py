"""Api-Key authentication, scopes, staff sessions, throttling, idempotency and the schema."""

import re

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from crm.api.auth import active_api_keys
from crm.models import ApiKey, IdempotencyRecord, Product
from crm.scopes import SCOPES
from crm.services import create_api_key, revoke_api_key, set_api_key_rate_limit
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
    assert client.get("/api/v1/customers/", {"q": "田中"}).status_code == 200
    assert client.get("/api/v1/customers/").status_code == 400  # listing everyone needs customers:export
    assert client.get("/api/v1/stores/").status_code == 200
    login_as(client, marketer)
    assert client.get("/api/v1/customers/").status_code == 200  # marketers may export
    response = client.post("/api/v1/customers/", {"family_name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_session_writes_need_the_csrf_token():
    staff = UserFactory(role="store_staff")
    client = APIClient(enforce_csrf_checks=True)
    login_as(client, staff)
    response = client.post("/api/v1/customers/", {"family_name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# --- API keys from the per-process cache ----------------------------------------------------------


def test_a_key_is_resolved_and_its_scope_checked_without_a_query(django_assert_num_queries):
    StoreFactory()
    _, raw = create_api_key(name="ec", scopes=["catalog:read"])
    client = client_with(raw)
    assert client.get("/api/v1/stores/").status_code == 200  # loads the keys, marks last use
    with django_assert_num_queries(1):  # the stores, nothing for the key, its scope or the throttle
        assert client.get("/api/v1/stores/").status_code == 200
    with django_assert_num_queries(0):
        assert client.post("/api/v1/customers/", {}, format="json").status_code == 403  # scope, no query


def test_a_key_revoked_in_another_process_stops_working_on_the_next_request():
    key, raw = create_api_key(name="ec", scopes=["catalog:read"])
    client = client_with(raw)
    assert client.get("/api/v1/stores/").status_code == 200
    # Another process revokes it: its save bumps the shared version; here only the row and the
    # shared cache change (no signal in this process).
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    cache.set(active_api_keys.key, "version-written-by-another-process")
    assert client.get("/api/v1/stores/").status_code == 401


def test_a_key_created_in_another_process_works_on_its_first_request():
    create_api_key(name="warm", scopes=["catalog:read"])
    client_with(create_api_key(name="first", scopes=["catalog:read"])[1]).get("/api/v1/stores/")
    assert client_with(create_api_key(name="new", scopes=["catalog:read"])[1]).get("/api/v1/stores/").status_code == 200


def test_last_use_is_recorded_to_the_minute_without_a_write_per_request(django_assert_num_queries, monkeypatch):
    from crm.api import auth

    monkeypatch.setattr(auth, "_marked_at", {})
    StoreFactory()
    key, raw = create_api_key(name="ec", scopes=["catalog:read"])
    client = client_with(raw)
    client.get("/api/v1/stores/")
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(1):
        client.get("/api/v1/stores/")
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    # a minute later (this process's mark and the shared one both expired), the next request writes again
    monkeypatch.setattr(auth, "_marked_at", {})
    cache.delete(f"tsunagu:api-key-used:{key.pk}")
    client.get("/api/v1/stores/")
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_another_process_that_wrote_last_use_this_minute_spares_the_write(monkeypatch):
    from crm.api import auth

    monkeypatch.setattr(auth, "_marked_at", {})
    key, raw = create_api_key(name="ec", scopes=["catalog:read"])
    cache.set(f"tsunagu:api-key-used:{key.pk}", 1, 60)  # another process wrote it a moment ago
    client_with(raw).get("/api/v1/stores/")
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None


# --- Throttle ------------------------------------------------------------------------------------------
def test_a_key_over_its_limit_gets_429_with_retry_after_until_the_window_ends(settings, clock):
    settings.API_KEY_THROTTLE_RATE = "3/min"
    _, raw = create_api_key(name="busy", scopes=["catalog:read"])
    client = client_with(raw)
    clock.now += 15
    assert [client.get("/api/v1/stores/").status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.now += 5  # 20 s into the minute
    response = client.get("/api/v1/stores/")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "throttled"
    assert response["Retry-After"] == "40"
    clock.now += 40  # the next minute opens
    assert [client.get("/api/v1/stores/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_keys_own_rate_overrides_the_default_and_other_keys_are_unaffected(settings, clock):
    settings.API_KEY_THROTTLE_RATE = "100/min"
    slow_key, slow_raw = create_api_key(name="partner", scopes=["catalog:read"], rate_limit=2)
    _, fast_raw = create_api_key(name="ec", scopes=["catalog:read"])
    slow, fast = client_with(slow_raw), client_with(fast_raw)
    assert [slow.get("/api/v1/stores/").status_code for _ in range(3)] == [200, 200, 429]
    assert [fast.get("/api/v1/stores/").status_code for _ in range(10)] == [200] * 10
    # raised in the admin: the next request (of any process) counts against the new rate
    set_api_key_rate_limit(api_key=slow_key, rate_limit=5)
    assert [slow.get("/api/v1/stores/").status_code for _ in range(3)] == [200, 200, 429]


def test_staff_session_calls_are_throttled_per_user(settings, clock, client):
    settings.API_KEY_THROTTLE_RATE = "2/min"
    StoreFactory()
    first, second = UserFactory(role="store_staff"), UserFactory(role="store_staff")
    client.force_login(first)
    assert [client.get("/api/v1/stores/").status_code for _ in range(3)] == [200, 200, 429]
    client.force_login(second)
    assert client.get("/api/v1/stores/").status_code == 200


def test_the_throttle_costs_the_same_at_any_traffic(settings, clock):
    """One counter per key and window, whatever the number of requests in it (no history list)."""
    from crm.api.auth import count_request

    settings.API_KEY_THROTTLE_RATE = "100000/min"
    for _ in range(500):
        count_request("tsunagu:throttle:test", 60)
    assert count_request("tsunagu:throttle:test", 60) == 501
    assert cache.get("tsunagu:throttle:test") == 501


@pytest.fixture
def redis_cache(settings):
    """The production cache: crm.cache.RedisCache at CRM_TEST_REDIS_URL (skipped when Redis is down)."""
    import os

    import redis

    url = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not running at {url}")
    prefix = f"tsunagu-test-{os.getpid()}"
    settings.CACHES = {"default": {"BACKEND": "crm.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix}}
    yield client
    for key in client.scan_iter(f"{prefix}:*"):  # only this test's keys: the database may be shared
        client.delete(key)


def test_the_throttle_counts_in_redis_in_one_round_trip(redis_cache):
    from crm.api.auth import count_request

    assert [count_request("tsunagu:throttle:redis", 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < redis_cache.ttl(cache.make_key("tsunagu:throttle:redis")) <= 61


def test_keys_revocation_and_throttle_through_redis(redis_cache, clock, django_assert_num_queries):
    StoreFactory()
    key, raw = create_api_key(name="ec", scopes=["catalog:read"], rate_limit=3)
    client = client_with(raw)
    assert client.get("/api/v1/stores/").status_code == 200
    with django_assert_num_queries(1):
        assert client.get("/api/v1/stores/").status_code == 200
    assert [client.get("/api/v1/stores/").status_code for _ in range(2)] == [200, 429]
    clock.now += 60
    assert client.get("/api/v1/stores/").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # revoked by another process
    cache.set(active_api_keys.key, "version-written-by-another-process")
    assert client.get("/api/v1/stores/").status_code == 401


@pytest.mark.parametrize("rate", [0, -5])
def test_a_rate_below_one_is_refused(rate):
    from django.core.exceptions import ValidationError

    key, _raw = create_api_key(name="ec", scopes=["catalog:read"])
    with pytest.raises(ValidationError) as error:
        set_api_key_rate_limit(api_key=key, rate_limit=rate)
    assert "rate_limit" in error.value.message_dict
    assert ApiKey.objects.get(pk=key.pk).rate_limit is None


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
    # every script and stylesheet is served from here (a random CSP nonce may spell "cdn", so look at the URLs)
    assets = re.findall(r'(?:src|href)="([^"]*)"', docs.content.decode())
    assert assets and all(url.startswith("/") for url in assets), assets


# --- Content negotiation ------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; q=0.9, */*; q=0.1"])
def test_json_is_answered_to_json_or_anything(api, accept):
    StoreFactory()
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api("catalog:read").get("/api/v1/stores/", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_an_unacceptable_media_type_is_still_406(api):
    response = api("catalog:read").get("/api/v1/stores/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 406


def test_the_schema_still_negotiates_its_formats(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert client.get("/api/schema/?format=json").status_code == 200


def test_an_api_call_sets_no_cookie_and_staff_pages_still_show_messages(api, admin_client):
    StoreFactory()
    assert not api("catalog:read").get("/api/v1/stores/").cookies
    response = admin_client.post(
        "/admin/crm/apikey/add/", {"name": "POS", "scopes": ["catalog:read"]}, follow=True
    )  # the new key is shown once through the messages framework
    assert "tsu_" in response.content.decode()
