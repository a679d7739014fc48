"""The middleware of operations.

`ops_endpoints` comes first in MIDDLEWARE: it answers /healthz, /readyz and /metrics before host
validation, the HTTPS redirect, sessions and the rest, because probes and Prometheus call a process
by its address over plain HTTP. Every other request passes through with one comparison.

`request_metrics` records each request's view, method, status and duration (django-prometheus'
metric families) and writes one JSON access-log line with the request id: the route pattern, never
the raw path or query string, which can carry tokens, emails or phone numbers.
"""

import hmac
import ipaddress
import logging
import time
import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django_guid import clear_guid, set_guid
from django_prometheus.middleware import Metrics

from . import health

access_log = logging.getLogger("tsunagu.access")
PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def ops_endpoints(get_response):
    def middleware(request):
        if request.path_info not in PATHS:
            return get_response(request)
        if request.method not in ("GET", "HEAD"):
            return JsonResponse({"detail": "method not allowed"}, status=405, headers={"Allow": "GET, HEAD"})
        if request.path_info == "/healthz":
            return _no_store(JsonResponse({"status": "ok"}))
        if request.path_info == "/readyz":
            ready, checks = health.readiness()
            return _no_store(JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                                          status=200 if ready else 503))  # fmt: skip
        return _metrics(request)

    return middleware


def _no_store(response):
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # a probe's 503 is an answer, not an error for django.request to log
    return response


def _metrics(request):
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _no_store(JsonResponse({"detail": "a valid bearer token is required"}, status=401,
                                          headers={"WWW-Authenticate": 'Bearer realm="metrics"'}))  # fmt: skip
    elif not _is_loopback(request.META.get("REMOTE_ADDR", "")):
        return _no_store(JsonResponse({"detail": "metrics answer only to this machine without METRICS_TOKEN"},
                                      status=403))  # fmt: skip
    from .metrics import exposition

    return _no_store(HttpResponse(exposition(), content_type=METRICS_CONTENT_TYPE))


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def request_id(get_response):
    """The request id: X-Request-ID when it is a UUID (what nginx, Heroku and most balancers send),
    else a new one. Set in django-guid's context, which its log filter and Celery integration read,
    and returned in the response. (django-guid's own middleware does the same with per-request
    logging and URL filtering that cost ~45 µs; bench/ops_overhead.py.)"""

    def middleware(request):
        given = request.headers.get("X-Request-ID", "")
        request.correlation_id = given if _is_uuid(given) else uuid.uuid4().hex
        set_guid(request.correlation_id)
        try:
            response = get_response(request)
        finally:
            clear_guid()
        response["X-Request-ID"] = request.correlation_id
        return response

    return middleware


def _is_uuid(value: str) -> bool:
    if not 32 <= len(value) <= 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def request_metrics(get_response):
    metrics = Metrics.get_instance()
    by_status = metrics.responses_by_status_view_method
    latency = metrics.requests_latency_by_view_method
    log_requests = settings.ACCESS_LOG

    def middleware(request):
        started = time.perf_counter()
        response = get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        view = (match.view_name or "<unnamed view>") if match is not None else "<unresolved>"
        method = request.method if request.method in _METHODS else "<invalid method>"
        status = response.status_code
        by_status.labels(str(status), view, method).inc()
        latency.labels(view, method).observe(elapsed)
        if log_requests:
            route = match.route if match is not None else None
            access_log.info(
                "%s %s %s %.1f ms", method, route, status, elapsed * 1000,
                extra={"method": method, "route": route, "view": view,
                       "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )  # fmt: skip
        return response

    return middleware


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
