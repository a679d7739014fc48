import hashlib
import hmac
import json
import re
import secrets
import time

import pytest
from django.core import mail
from django.test import Client

from campaigns.models import CampaignRecipient, MailEvent, Suppression
from campaigns.selectors import campaign_attribution, campaign_counts
from campaigns.services import start_campaign
from campaigns.tokens import make_token
from crm.models import Customer

from .factories import CampaignFactory, CustomerFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="hanako@example.jp")
    campaign = CampaignFactory()
    with django_capture_on_commit_callbacks(execute=True):
        start_campaign(campaign=campaign)
    message = mail.outbox[0]
    return campaign, customer, message


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_one_click_unsubscribe_post_without_login_or_csrf(sent):
    campaign, customer, message = sent
    url = path_of(message.extra_headers["List-Unsubscribe"].strip("<>"))
    client = Client(enforce_csrf_checks=True)
    page = client.get(url)
    assert page.status_code == 200 and "<form" in page.content.decode()
    customer.refresh_from_db()
    assert customer.email_opt_in  # GET alone (a link scanner) changes nothing
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert not customer.email_opt_in and customer.email_opt_in_source == "unsubscribe"
    assert Suppression.objects.get(email="hanako@example.jp").reason == "unsubscribed"
    assert client.post(url).status_code == 200  # again: nothing more happens
    assert MailEvent.objects.filter(kind="unsubscribe").count() == 1
    assert campaign_counts(campaign)["unsubscribed"] == 1


@pytest.mark.parametrize("token", ["nonsense", "a:b:c", "eyJjIjoiY21wIn0:forged"])
def test_invalid_unsubscribe_token_is_404_and_changes_nothing(sent, token):
    response = Client().post(f"/campaigns/u/{token}/")
    assert response.status_code == 404
    assert Customer.objects.get(email="hanako@example.jp").email_opt_in
    assert Suppression.objects.count() == 0


def test_token_for_another_purpose_is_refused(sent):
    campaign, customer, _message = sent
    open_token = make_token("open", campaign_id=campaign.public_id, customer_id=customer.public_id)
    assert Client().post(f"/campaigns/u/{open_token}/").status_code == 404
    assert Suppression.objects.count() == 0


def test_open_pixel_and_click_redirect(sent):
    campaign, _customer, message = sent
    html = message.alternatives[0][0]
    pixel = path_of(re.search(r'<img src="([^"]+)"', html).group(1))
    response = Client().get(pixel)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    click = path_of(re.search(r'href="([^"]+/t/c/[^"]+)"', html).group(1).replace("&amp;", "&"))
    response = Client().get(click)
    assert response.status_code == 302 and response["Location"] == "https://shop.example/sale?utm=mail&x=1"
    counts = campaign_counts(campaign)
    assert counts["opened"] == 1 and counts["clicked"] == 1
    assert MailEvent.objects.filter(kind="click", url="https://shop.example/sale?utm=mail&x=1").count() == 1


def test_click_to_a_url_not_in_the_campaign_is_refused(sent):
    campaign, customer, _message = sent
    token = make_token(
        "click", campaign_id=campaign.public_id, customer_id=customer.public_id, url="https://evil.example/"
    )
    response = Client().get(f"/campaigns/t/c/{token}/")
    assert response.status_code == 404 and "Location" not in response
    assert MailEvent.objects.count() == 0
    assert Client().get("/campaigns/t/c/garbage/").status_code == 404
    assert Client().get("/campaigns/t/o/garbage/").status_code == 404
    assert CampaignRecipient.objects.filter(opened_at__isnull=False).count() == 0


def test_attribution_splits_store_and_ec_and_counts_the_holdout(django_capture_on_commit_callbacks):
    customers = CustomerFactory.create_batch(30)
    campaign = CampaignFactory(holdout_percent=30)
    with django_capture_on_commit_callbacks(execute=True):
        start_campaign(campaign=campaign)
    mailed = [r.customer for r in CampaignRecipient.objects.filter(state="sent").select_related("customer")]
    holdout = [r.customer for r in CampaignRecipient.objects.filter(state="holdout").select_related("customer")]
    assert mailed and holdout
    make_order(mailed[0], channel="store", total=5000, days_ago=0)
    make_order(mailed[0], channel="app", total=7000, days_ago=0)
    make_order(mailed[1], channel="ec", total=3000, days_ago=0)
    make_order(mailed[2], channel="ec", total=9999, days_ago=3)  # before the mail: not attributed
    make_order(holdout[0], channel="store", total=4000, days_ago=0)
    campaign.refresh_from_db()
    result = campaign_attribution(campaign)
    assert result["mailed"] == {"orders": 3, "revenue": 15000, "store_orders": 1, "ec_orders": 2, "buyers": 2}
    assert result["holdout"] == {"orders": 1, "revenue": 4000, "store_orders": 1, "ec_orders": 0, "buyers": 1}
    assert len(customers) == 30


def _mailgun_payload(key: str, event: dict, *, good=True, age: float = 0, token: str | None = None) -> str:
    timestamp, token = str(int(time.time() - age)), token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    if not good:
        signature = "0" * 64
    return json.dumps(
        {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event}
    )


def _bounce_event(message_id: str, email: str, event="failed", severity="permanent") -> dict:
    return {
        "event": event, "severity": severity, "recipient": email, "timestamp": time.time(), "id": "ev1",
        "message": {"headers": {"message-id": message_id.strip("<>")}}, "delivery-status": {"code": 550},
    }  # fmt: skip


def test_signed_bounce_webhook_suppresses_the_address(sent, settings):
    settings.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = "key-test"
    campaign, _customer, message = sent
    body = _mailgun_payload("key-test", _bounce_event(message.extra_headers["Message-ID"], "Hanako@Example.jp"))
    response = Client().post("/campaigns/esp/tracking/", body, content_type="application/json")
    assert response.status_code == 200
    assert Suppression.objects.get(email="hanako@example.jp").reason == "hard_bounce"
    assert campaign_counts(campaign)["bounced"] == 1
    complaint = _mailgun_payload("key-test", _bounce_event("<x@y>", "other@example.jp", event="complained"))
    assert Client().post("/campaigns/esp/tracking/", complaint, content_type="application/json").status_code == 200
    assert Suppression.objects.get(email="other@example.jp").reason == "complaint"


def test_soft_bounce_does_not_suppress(sent, settings):
    settings.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = "key-test"
    body = _mailgun_payload("key-test", _bounce_event("<x@y>", "hanako@example.jp", severity="temporary"))
    assert Client().post("/campaigns/esp/tracking/", body, content_type="application/json").status_code == 200
    assert Suppression.objects.count() == 0


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(sent, settings):
    settings.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = "key-test"
    body = _mailgun_payload("key-test", _bounce_event("<x@y>", "hanako@example.jp"), good=False)
    response = Client().post("/campaigns/esp/tracking/", body, content_type="application/json")
    assert 400 <= response.status_code < 500
    other_key = _mailgun_payload("another-key", _bounce_event("<x@y>", "hanako@example.jp"))
    assert (
        400 <= Client().post("/campaigns/esp/tracking/", other_key, content_type="application/json").status_code < 500
    )
    assert Client().post("/campaigns/esp/tracking/", "not json", content_type="application/json").status_code == 400
    assert Suppression.objects.count() == 0 and MailEvent.objects.count() == 0


def test_webhook_is_off_without_a_key(settings):
    settings.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = ""
    body = _mailgun_payload("", _bounce_event("<x@y>", "a@example.jp"))
    assert Client().post("/campaigns/esp/tracking/", body, content_type="application/json").status_code == 404
    assert Suppression.objects.count() == 0


@pytest.mark.parametrize("age", [16 * 60, -16 * 60, 86_400 * 30])
def test_webhook_with_a_stale_or_future_timestamp_is_refused(sent, settings, age):
    settings.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = "key-test"
    body = _mailgun_payload("key-test", _bounce_event("<x@y>", "hanako@example.jp"), age=age)
    response = Client().post("/campaigns/esp/tracking/", body, content_type="application/json")
    assert response.status_code == 400
    assert Suppression.objects.count() == 0 and MailEvent.objects.count() == 0


def test_a_replayed_webhook_is_refused(sent, settings):
    settings.CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = "key-test"
    body = _mailgun_payload("key-test", _bounce_event("<x@y>", "hanako@example.jp"), token="t" * 50)
    assert Client().post("/campaigns/esp/tracking/", body, content_type="application/json").status_code == 200
    assert Client().post("/campaigns/esp/tracking/", body, content_type="application/json").status_code == 400
