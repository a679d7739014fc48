"""Small things staff notice (issue 14, item 10): the set-password page's main button, and a 403 in
the log as one line."""

import io
import json
import re

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils.log import configure_logging

from tests.crm.factories import UserFactory
from tests.mfa import login_as

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["ja", "en"])
def test_on_the_set_password_page_the_main_button_is_primary_and_cancel_is_not(client, language):
    user = UserFactory(role="store_staff", language=language)
    url = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    page = client.get(url, follow=True, HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    assert page.status_code == 200 and 'name="password1"' in html
    buttons = re.findall(r"<button\s([^>]*)>\s*([^<]+?)\s*</button>", html)
    classes = {label: attrs for attrs, label in buttons}
    cancel = "キャンセル" if language == "ja" else "Cancel"
    assert cancel in classes and 'class="secondary outline"' in classes[cancel]
    main = [attrs for attrs, _label in buttons if 'name="action"' in attrs]
    assert len(main) == 1 and 'class="primary"' in main[0]


@pytest.fixture
def log_buffer(settings):
    buffer = io.StringIO()
    config = json.loads(json.dumps(django_settings.LOGGING, default=str))
    config["handlers"]["console"]["stream"] = buffer
    config["handlers"]["console"]["formatter"] = "plain"
    settings.LOGGING = config
    configure_logging(settings.LOGGING_CONFIG, config)
    yield buffer
    configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)


def test_a_403_is_logged_in_one_line_without_a_traceback(client, log_buffer):
    login_as(client, UserFactory(role="store_staff"))
    assert client.get("/loyalty/approvals/").status_code == 403
    lines = [line for line in log_buffer.getvalue().splitlines() if line.strip()]
    forbidden = [line for line in lines if "Forbidden" in line]
    assert len(forbidden) == 1, lines
    assert "Traceback" not in log_buffer.getvalue() and "PermissionDenied" not in log_buffer.getvalue()
