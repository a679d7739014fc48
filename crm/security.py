"""Who is signing in, and from where: one login flow (allauth) for staff and admins, two-factor
login required for everyone who can use the admin, and the client address behind our proxies."""

import time

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

ADMIN_PERMISSION = "crm.change_user"  # the admin role's alone: managing staff accounts


def client_ip(request: HttpRequest) -> str:
    """The client's address: with TRUSTED_PROXY_COUNT proxies in front of us (each appending to
    X-Forwarded-For), the entry the outermost trusted proxy wrote; REMOTE_ADDR without proxies, or
    when a request did not pass through all of them."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    if count > 0 and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def requires_mfa(user) -> bool:
    """Whoever can reach the admin or holds an admin's powers (the admin role manages staff and API
    keys) must use a second factor. has_perm reads the permission cache every staff page loads."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.is_staff or user.has_perm(ADMIN_PERMISSION)


def passed_mfa(request: HttpRequest) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


# Pages an admin without a second factor may still open: setting it up, signing out, language, assets.
_SETUP_PATHS = ("/accounts/", "/static/", "/i18n/", "/jsi18n/", "/me/language/")


class MfaRequiredMiddleware:
    """Admins and superusers set up two-factor login before they use any page, and a session of
    theirs that did not pass the second factor (one made outside the login flow) is ended."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        # passed_mfa reads the session only: a signed-in admin costs no query on each request.
        if (
            user is not None
            and requires_mfa(user)
            and not request.path.startswith(_SETUP_PATHS)
            and not passed_mfa(request)
        ):
            if not has_totp(user):
                return self._refuse(request, reverse("mfa_activate_totp"))
            logout(request)
            return self._refuse(request, None)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, setup_url):
        if request.path.startswith("/api/"):
            from .api.errors import PROBLEM_CONTENT_TYPE, problem

            detail = _("Set up two-factor login before using Tsunagu.") if setup_url else _("Sign in again.")
            body = problem(status_code=403, code="mfa_required", detail=detail)
            return JsonResponse(body, status=403, content_type=PROBLEM_CONTENT_TYPE)
        if setup_url:
            return HttpResponseRedirect(setup_url)
        return redirect_to_login(request.get_full_path())


def admin_login(request):
    """The admin has no login form of its own: everyone signs in through allauth, with its rate
    limits and two-factor login. A password posted here signs nobody in."""
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


class SessionLimitsMiddleware:
    """A signed-in session ends after STAFF_SESSION_MAX_HOURS (a working day) whatever happens, and
    after SESSION_COOKIE_AGE without a request: the expiry slides by writing the session again, at
    most every few minutes rather than on every request."""

    REFRESH_EVERY = 5 * 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            started = request.session.setdefault("security_login_at", now)
            if now - started > settings.STAFF_SESSION_MAX_HOURS * 3600:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)  # answered as any unauthenticated call
                return redirect_to_login(request.get_full_path())
            if now - request.session.get("security_seen_at", 0) >= self.REFRESH_EVERY:
                request.session["security_seen_at"] = now
        return self.get_response(request)
