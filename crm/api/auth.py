"""Who is calling the API, and may they: Api-Key authentication, scope permission, per-key throttle."""

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from ..models import ApiKey
from ..scopes import SCOPE_PERMISSIONS
from ..services.api_keys import hash_api_key

_LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    keyword = "api-key"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Send the header as: Authorization: Api-Key <key>."))
        try:
            raw_key = parts[1].decode()
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed(_("Invalid API key.")) from exc
        api_key = ApiKey.objects.filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True).first()
        if api_key is None:
            raise AuthenticationFailed(_("Invalid API key."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)  # at most once a minute per key
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return 'Api-Key realm="api"'


def required_scope(view, request) -> str | None:
    scopes = getattr(view, "required_scopes", None)
    if isinstance(scopes, dict):
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        return scopes.get(method)
    return getattr(view, "required_scope", None)


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


class ApiKeyRateThrottle(SimpleRateThrottle):
    """One request budget per API key (or per staff user, for session calls)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def api_actor(request):
    """The staff user behind a request, or None for an integration's key."""
    user = request.user
    return None if isinstance(user, AnonymousUser) or not user.is_authenticated else user


def idempotency_owner(request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"
