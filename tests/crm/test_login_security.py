"""Staff and admins sign in through one flow (allauth): rate-limited, with two-factor login, which
admins and superusers must use (audit finding 2)."""

import pytest
from allauth.mfa.models import Authenticator

from crm.models import User
from tests.mfa import enable_totp, login_as, login_with_mfa, totp_code

from .factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture
def superuser():
    return User.objects.create_superuser("root@tsunagu.example", PASSWORD, language="en")


def test_admin_login_page_sends_everyone_to_the_one_login_flow(client):
    response = client.get("/admin/login/?next=/admin/crm/customer/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/crm/customer/"
    chain = client.get("/admin/", follow=True).redirect_chain
    assert chain[-1][0] == "/accounts/login/?next=/admin/"


def test_a_password_alone_at_admin_login_gives_no_session(client, superuser):
    enable_totp(superuser)
    response = client.post("/admin/login/", {"username": superuser.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_admin_with_totp_needs_the_code_after_the_password(client, superuser):
    secret = enable_totp(superuser)
    response = client.post("/accounts/login/", {"login": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_login_failures_lock_the_account_out_for_a_while(client):
    user = UserFactory(role="store_staff")
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": user.email, "password": "wrong-password-1"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()


@pytest.mark.parametrize("kind", ["superuser", "admin"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # allauth completes the set-up on commit
def test_admins_without_two_factor_are_sent_to_set_it_up_before_any_page(client, superuser, kind):
    user = superuser if kind == "superuser" else UserFactory(role="admin")
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    for path in ("/", "/customers/", "/admin/", "/campaigns/", "/api/v1/stores/"):
        response = client.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/2fa/totp/activate/"), path
    # Setting it up (the password again, then a real code from the app) opens the pages, in the same session.
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    client.post(response["Location"], {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    assert client.get("/customers/").status_code == 200
    assert client.get("/admin/").status_code in (200, 302 if kind == "admin" else 200)


def test_store_staff_may_sign_in_with_a_password_alone(client):
    user = UserFactory(role="store_staff")
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert client.get("/customers/").status_code == 200


def test_an_admin_session_that_skipped_the_second_factor_is_ended(client, superuser):
    enable_totp(superuser)
    client.force_login(superuser)  # a session from anywhere but the login flow
    response = client.get("/customers/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(("kind", "removed"), [("superuser", False), ("agent", True)])
def test_only_staff_without_admin_rights_may_remove_their_authenticator(client, superuser, kind, removed):
    user = superuser if kind == "superuser" else UserFactory(role="agent")
    login_with_mfa(client, user)
    response = client.post("/accounts/reauthenticate/?next=/accounts/2fa/totp/deactivate/", {"password": PASSWORD})
    assert response.status_code == 302
    client.post("/accounts/2fa/totp/deactivate/", {})
    assert Authenticator.objects.filter(user=user, type="totp").exists() is not removed


def test_the_helper_session_reaches_the_admin(client, superuser):
    login_with_mfa(client, superuser)
    assert client.get("/admin/").status_code == 200


# --- Sessions: a working day at most, with an idle timeout (audit finding 8) ---------------------
def test_a_staff_session_ends_after_a_working_day(client):
    import time

    login_as(client, UserFactory(role="store_staff"))
    assert client.get("/customers/").status_code == 200
    session = client.session
    session["security_login_at"] = int(time.time()) - 11 * 3600
    session.save()
    response = client.get("/customers/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_an_idle_session_expires_and_an_active_one_slides(client, settings):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    assert settings.SESSION_COOKIE_AGE == 3600
    login_as(client, UserFactory(role="store_staff"))
    client.get("/customers/")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    expires = Session.objects.get(session_key=key).expire_date
    assert timezone.now() + timezone.timedelta(minutes=55) < expires <= timezone.now() + timezone.timedelta(hours=1)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    response = client.get("/customers/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
