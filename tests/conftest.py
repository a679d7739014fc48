import os
import shutil

import pytest
from django.db import connection
from rest_framework.test import APIClient

from crm.services import create_api_key


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    have_browser = bool(shutil.which("chromium"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL pointing at PostgreSQL"))
        if "browser" in item.keywords and not have_browser and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed (CI installs it)"))


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def api():
    """`api(scopes...)` → an APIClient authenticated with a fresh key holding those scopes."""

    def make(*scopes: str) -> APIClient:
        _, raw = create_api_key(name="test", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        return client

    return make


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def clock(monkeypatch):
    """The API throttle's clock, stopped at the start of a minute; move it with `clock.now += s`."""
    from crm.api import auth

    class Clock:
        now = 1_800_000_000.0  # a multiple of 60

    monkeypatch.setattr(auth, "_clock", lambda: Clock.now)
    return Clock


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin client, signed in as the login flow leaves a superuser: with the second factor."""
    from tests.mfa import login_with_mfa

    login_with_mfa(client, admin_user)
    return client


@pytest.fixture(autouse=True)
def _no_quiet_hours(settings):
    """Campaign batches read the wall clock: with the default quiet hours (21:00–08:00 JST) a run in
    the Japanese evening would send nothing. Tests of the quiet hours set them (and the time) themselves."""
    settings.CAMPAIGNS_QUIET_HOURS = None
