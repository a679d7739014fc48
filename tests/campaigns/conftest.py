"""Fixtures of the LINE tests (the fake LINE API and an account pointed at it)."""

from tests.channels_hub.line_support import fake_line, line_account, webhook_client  # noqa: F401
