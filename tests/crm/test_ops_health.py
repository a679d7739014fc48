"""/healthz and /readyz: answered to any host over plain HTTP, without authentication or personal data;
/readyz names the part that is down with 503."""

import socket
import time

import pytest
from django.db import DatabaseError

from crm.ops import health

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def production(settings):
    """As behind a balancer in production: HTTPS redirect on, only the public host allowed."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["crm.shop.example"]
    settings.SECURE_SSL_REDIRECT = True
    return settings


def test_healthz_answers_a_probe_by_address_over_plain_http_without_touching_the_database(
    client, production, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_with_everything_up_says_which_parts_it_checked(client, production):
    response = client.get("/readyz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"},
    }


def test_readyz_with_the_broker_down_is_503_naming_the_broker(client, production):
    production.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "unreachable"}
    assert "127.0.0.1" not in response.content.decode()  # details go to the log, not to the caller


def test_readyz_with_the_cache_down_is_503_naming_the_cache(client, production):
    production.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "cache": "unreachable", "broker": "ok"}


def test_readyz_with_the_database_down_is_503_naming_the_database(client, production, monkeypatch):
    class DownConnection:
        def cursor(self):
            raise DatabaseError("connection refused")

    monkeypatch.setattr(health, "connection", DownConnection())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "unreachable",
        "migrations": "unknown",
        "cache": "ok",
        "broker": "ok",
    }


def test_readyz_before_the_migrations_of_this_code_are_applied_is_503_pending(client, production, monkeypatch):
    monkeypatch.setattr(health, "_migrations_done", False)
    monkeypatch.setattr(health, "_expected_migrations", {("crm", "0001_initial"), ("crm", "9999_next_release")})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "pending"
    monkeypatch.setattr(health, "_expected_migrations", {("crm", "0001_initial")})
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_refuse_writes(client, path):
    response = client.post(path, {"x": 1})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
