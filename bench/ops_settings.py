"""Settings of bench/ops_overhead.py: crm.settings in production mode with a trivial endpoint, and the
operations middleware chosen by BENCH_OPS (none, ops = as shipped, library = django-prometheus' own
middleware pair) and the metered database backend by BENCH_DB_METRICS (1 as shipped, 0 plain)."""

import os

from crm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ops_urls"
SECURE_SSL_REDIRECT = False
_OURS = [
    "crm.ops.middleware.ops_endpoints",
    "django_guid.middleware.guid_middleware",
    "crm.ops.middleware.request_metrics",
]
_BASE = [m for m in MIDDLEWARE if m not in _OURS]  # noqa: F405
MIDDLEWARE = {
    "none": _BASE,
    "ops": MIDDLEWARE,  # noqa: F405
    "request id only": [_OURS[0], _OURS[1], *_BASE],
    "metrics only": [_OURS[0], _OURS[2], *_BASE],
    "django-guid": [_OURS[0], "django_guid.middleware.guid_middleware", *_BASE],
    "library": [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        _OURS[0],
        "django_guid.middleware.guid_middleware",
        *_BASE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ],
}[os.environ.get("BENCH_OPS", "ops")]
if os.environ.get("BENCH_DB_METRICS", "1") == "0":
    for _db in DATABASES.values():  # noqa: F405
        _db["ENGINE"] = _db["ENGINE"].replace("django_prometheus.db.backends", "django.db.backends")  # plain
