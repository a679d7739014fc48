"""Fixtures for LINE tests: the fake LINE API on a loopback port, an official account whose SDK
points at it, and webhook events handed to Django's test client (signed by the fake)."""

import pytest
from django.test import Client

from channels_hub.line.fake import FakeLine
from channels_hub.line.services import configure_line_account

SECRET = "test-channel-secret"
TOKEN = "test-access-token-0123456789"


@pytest.fixture
def webhook_client():
    return Client()


@pytest.fixture
def fake_line(webhook_client, django_capture_on_commit_callbacks):
    """Events the fake sends go to /hooks/line/shop/ through the test client; their after-commit
    processing runs at once, as the eager Celery of `make run` does."""

    def deliver(body: bytes, signature: str) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            response = webhook_client.post(
                "/hooks/line/shop/", body, content_type="application/json", HTTP_X_LINE_SIGNATURE=signature
            )
        return response.status_code

    fake = FakeLine(access_token=TOKEN, channel_secret=SECRET, deliver=deliver).start()
    yield fake
    fake.stop()


@pytest.fixture
def line_account(fake_line):
    account, _created = configure_line_account(
        name="shop", channel_secret=SECRET, access_token=TOKEN, api_base=fake_line.base_url, label="Shop LINE"
    )
    return account


def user_id(n: int) -> str:
    return f"U{n:032x}"
