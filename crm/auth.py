import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .security import client_ip, requires_mfa


class StaffOnlyAccountAdapter(DefaultAccountAdapter):
    """Tsunagu is for a retailer's staff: nobody signs up; admins invite staff (crm.services.invite_staff)."""

    def is_open_for_signup(self, request):
        return False

    def get_client_ip(self, request):
        """Login rate limits count per client, taken from the trusted proxy (crm.security.client_ip)."""
        return client_ip(request)


class StaffMFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator):
        """An admin's authenticator app stays: two-factor login is required for them."""
        return not (authenticator.type == Authenticator.Type.TOTP and requires_mfa(authenticator.user))


@receiver(authenticator_added)
def record_second_factor_at_setup(sender, request, user, authenticator, **kwargs):
    """Setting up the app means typing a code from it: that session has passed the second factor."""
    if authenticator.type == Authenticator.Type.TOTP and request is not None and request.user == user:
        record_authentication(request, user, "mfa", type="totp")


@receiver(user_logged_in)
def start_the_working_day(sender, request, user, **kwargs):
    """crm.security.SessionLimitsMiddleware ends the session STAFF_SESSION_MAX_HOURS after this."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session["security_login_at"] = request.session["security_seen_at"] = now
