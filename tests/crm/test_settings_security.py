"""Secrets and production requirements come from the environment (audit finding 8)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = "import django; django.setup(); from django.conf import settings as s; print({})"


def settings_value(expression: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CACHE_URL"))}
    environment |= {"DJANGO_SETTINGS_MODULE": "crm.settings", **env}
    return subprocess.run(  # noqa: S603  our own interpreter and code
        [sys.executable, "-c", PRINT.format(expression)], cwd=ROOT, env=environment, capture_output=True, text=True,
        check=False, timeout=60,
    )  # fmt: skip


def test_signing_secrets_are_read_from_the_environment():
    result = settings_value(
        "(s.HUB_INBOUND_WEBHOOK_SECRET, s.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY)",
        HUB_INBOUND_WEBHOOK_SECRET="hub-from-env", CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY="esp-from-env",
    )  # fmt: skip
    assert result.stdout.strip() == "('hub-from-env', 'esp-from-env')", result.stderr


def test_production_needs_a_secret_key_and_a_shared_cache():
    production = {"DEBUG": "false", "ALLOWED_HOSTS": "shop.example"}
    missing_key = settings_value("s.SECRET_KEY", **production, CACHE_URL="redis://127.0.0.1:6379/4")
    assert missing_key.returncode != 0 and "SECRET_KEY" in missing_key.stderr
    missing_cache = settings_value("s.CACHES", **production, SECRET_KEY="x" * 50)
    assert missing_cache.returncode != 0 and "CACHE_URL" in missing_cache.stderr
    shared = settings_value("s.CACHES['default']['BACKEND']", **production, SECRET_KEY="x" * 50,
                            CACHE_URL="redis://127.0.0.1:6379/4")  # fmt: skip
    assert shared.stdout.strip().endswith("RedisCache"), shared.stderr
