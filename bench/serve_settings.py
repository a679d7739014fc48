"""Settings of the served benchmark's gunicorn: production settings plus two baseline endpoints."""

from crm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.serve_urls"
