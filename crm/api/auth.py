"""Who is calling the API, and may they: Api-Key authentication, scope permission, per-key throttle.

Every request of an integration passes here, so nothing here queries the database on the way: keys
come from a per-process copy (crm.caching) that a revocation or a rate change drops in every process
at once, scopes are checked against that copy, `last_used_at` is written at most once a minute per
key, and the throttle is one counter per key and minute in the shared cache.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from ..caching import ConfigCache
from ..models import ApiKey
from ..scopes import SCOPE_PERMISSIONS
from ..services.api_keys import hash_api_key

LAST_USED_RESOLUTION = 60  # seconds: last_used_at is kept to the minute
_clock = time.time  # the throttle's windows (tests move it)


def _active_keys() -> dict[str, ApiKey]:
    return {key.key_hash: key for key in ApiKey.objects.filter(revoked_at__isnull=True)}


# Saving a key (create, revoke, rate change) drops every process's copy: the next request reloads.
active_api_keys: ConfigCache[dict[str, ApiKey]] = ConfigCache("crm.api_keys", _active_keys, models=[ApiKey])
_marked_at: dict[int, float] = {}  # api key pk → when this process last wrote (or saw written) last_used_at


class ApiKeyUser(AnonymousUser):
    """request.user for an integration: authenticated, but no staff permissions of its own."""

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def __str__(self):
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"api-key"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Send the header as: Authorization: Api-Key <key>."))
        try:
            raw_key = parts[1].decode()
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed(_("Invalid API key.")) from exc
        key_hash = hash_api_key(raw_key)
        known = (active_api_keys.peek() or {}).get(key_hash)
        if known is None:  # a key this process has not seen (or nothing loaded yet)
            api_key = active_api_keys.get().get(key_hash)
        else:
            # The copy's version and the key's throttle counter in one round trip; the count stands
            # if the copy was current, or reloaded with the same key at the same rate.
            rate, now = rate_of(known), _clock()
            version, count = version_and_count(throttle_counter(f"key:{known.pk}", rate, now), rate.seconds)
            api_key = active_api_keys.get(version=version).get(key_hash)
            if api_key is not None and api_key.pk == known.pk and rate_of(api_key) == rate:
                request.throttle_count = (rate, now, count)
        if api_key is None:
            raise AuthenticationFailed(_("Invalid API key."))
        mark_used(api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return 'Api-Key realm="api"'


def mark_used(api_key: ApiKey) -> None:
    """last_used_at to the minute: each process looks once a minute per key, and of all processes the
    one that wins the shared cache's add() writes the row."""
    now = time.monotonic()
    if now - _marked_at.get(api_key.pk, -math.inf) < LAST_USED_RESOLUTION:
        return
    _marked_at[api_key.pk] = now
    if cache.add(f"tsunagu:api-key-used:{api_key.pk}", 1, timeout=LAST_USED_RESOLUTION):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())


def required_scope(view, request) -> str | None:
    scopes = getattr(view, "required_scopes", None)
    if isinstance(scopes, dict):
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        return scopes.get(method)
    return getattr(view, "required_scope", None)


def has_scope(request, scope: str) -> bool:
    """Whether the caller holds `scope`: an API key by its scopes, a staff session by its role."""
    if isinstance(request.auth, ApiKey):
        return scope in request.auth.scopes
    return bool(request.user and request.user.is_authenticated and request.user.has_perm(SCOPE_PERMISSIONS[scope]))


class HasScope(BasePermission):
    """An API key needs the view's scope; a logged-in staff user needs the permission that scope
    maps to (crm.scopes). A view that declares no scope is closed to everyone."""

    def has_permission(self, request, view):
        scope = required_scope(view, request)
        if scope is None or not request.user or not request.user.is_authenticated:
            return False
        if isinstance(request.auth, ApiKey):
            return scope in request.auth.scopes
        return request.user.has_perm(SCOPE_PERMISSIONS[scope])


# --- Throttle ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: int


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> Rate:
    """'6000/min', '100/s', '1000000/hour' → Rate (the period's first letter counts, as in DRF)."""
    number, period = rate.split("/")
    return Rate(int(number), _PERIODS[period.strip()[0]])


def default_rate() -> Rate:
    return parse_rate(settings.API_KEY_THROTTLE_RATE)


def rate_of(api_key: ApiKey | None) -> Rate:
    """A key's own rate (requests per minute, set in the admin) or the default."""
    if api_key is not None and api_key.rate_limit:
        return Rate(api_key.rate_limit, 60)
    return default_rate()


def throttle_counter(ident: str, rate: Rate, now: float) -> str:
    return f"tsunagu:throttle:{ident}:{rate.seconds}:{int(now // rate.seconds)}"


def _redis(key: str):
    """The Redis client behind the default cache (None for other backends) and `key` as stored."""
    backend = getattr(cache, "_cache", None)
    if not hasattr(backend, "get_client"):  # not django.core.cache.backends.redis.RedisCache
        return None, key
    full_key = cache.make_and_validate_key(key)
    return backend.get_client(full_key, write=True), full_key


def version_and_count(counter: str, window_seconds: int) -> tuple[str | None, int]:
    """The API key cache's shared version, and this request counted in its window: one round trip."""
    client, full_counter = _redis(counter)
    if client is None:
        return cache.get(active_api_keys.key), count_request(counter, window_seconds)
    pipe = client.pipeline(transaction=False)
    pipe.get(cache.make_and_validate_key(active_api_keys.key))
    pipe.set(full_counter, 0, ex=window_seconds + 1, nx=True)
    pipe.incr(full_counter)
    raw_version, _created, count = pipe.execute()
    return (None if raw_version is None else cache._cache._serializer.loads(raw_version)), count


def count_request(key: str, window_seconds: int) -> int:
    """Add one to a counter that lives for one window; returns the new count. One round trip on Redis
    (SET NX + INCR in a pipeline), add/incr on other caches."""
    client, full_key = _redis(key)
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.set(full_key, 0, ex=window_seconds + 1, nx=True)
        pipe.incr(full_key)
        return pipe.execute()[1]
    if cache.add(key, 1, timeout=window_seconds + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_seconds + 1)
        return 1


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed-window counter per API key (or per staff user, for session calls, or per address):
    O(1) per request whatever the traffic, unlike a list of timestamps. A window allows `requests`
    and answers 429 with Retry-After = the seconds until the next window opens."""

    def allow_request(self, request, view):
        counted = getattr(request, "throttle_count", None)  # by ApiKeyAuthentication's round trip
        if counted is None:
            rate, now = rate_of(request.auth if isinstance(request.auth, ApiKey) else None), _clock()
            count = count_request(throttle_counter(self.ident(request), rate, now), rate.seconds)
        else:
            rate, now, count = counted
        if count <= rate.requests:
            return True
        self.retry_after = max(1, math.ceil((int(now // rate.seconds) + 1) * rate.seconds - now))
        return False

    def wait(self):
        return self.retry_after

    def ident(self, request) -> str:
        if isinstance(request.auth, ApiKey):
            return f"key:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"


def api_actor(request):
    """The staff user behind a request, or None for an integration's key."""
    user = request.user
    return None if isinstance(user, AnonymousUser) or not user.is_authenticated else user


def idempotency_owner(request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"
