"""Signing staff in for tests the way the login flow leaves them: admins and superusers must have
two-factor login set up and have passed it in this session (crm.security.MfaRequiredMiddleware)."""

import time

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.mfa.utils import decrypt


def enable_totp(user) -> str:
    """Give the user an authenticator app; returns its secret."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is not None:
        return decrypt(authenticator.data["secret"])
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def login_with_mfa(client, user):
    """force_login plus what allauth records when the password and the TOTP code were both given."""
    enable_totp(user)
    client.force_login(user)
    session = client.session
    now = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return user


def login_as(client, user):
    """Sign a user in for a test as the login flow would: with the second factor where it is required."""
    from crm.security import requires_mfa

    if requires_mfa(user):
        return login_with_mfa(client, user)
    client.force_login(user)
    return user
