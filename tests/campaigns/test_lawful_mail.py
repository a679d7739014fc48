"""The Act on Specified Electronic Mail: every campaign mail names the sender and the sender's postal
address and carries a working unsubscribe link, the same URL as its List-Unsubscribe header; added
when the template lacks them, not twice when it has them."""

import re

import pytest
from django.core import mail

from campaigns.models import Campaign
from campaigns.services import start_campaign
from crm.models import Customer
from tests.crm.factories import CustomerFactory, UserFactory
from tests.mfa import login_as

from .factories import CampaignFactory, SegmentFactory

pytestmark = pytest.mark.django_db
ADDRESS = "〒150-0001 東京都渋谷区神宮前1-1-1"


@pytest.fixture(autouse=True)
def sender(settings):
    settings.TSUNAGU_SENDER_NAME = "つなぐ商店"
    settings.TSUNAGU_SENDER_ADDRESS = ADDRESS


def _send(django_capture_on_commit_callbacks, **templates):
    CustomerFactory(email="hanako@example.jp")
    campaign = CampaignFactory(segment=SegmentFactory(rules={"field": "prefecture", "op": "eq", "value": "東京都"}))
    Campaign.objects.filter(pk=campaign.pk).update(**templates)
    campaign.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        start_campaign(campaign=campaign)
    assert len(mail.outbox) == 1
    return mail.outbox[0]


def _header_url(message) -> str:
    return re.match(r"<([^>]+)>", message.extra_headers["List-Unsubscribe"]).group(1)


def test_a_template_without_sender_or_unsubscribe_gets_both_appended(django_capture_on_commit_callbacks):
    message = _send(django_capture_on_commit_callbacks, body_text="セールです", body_html="<p>セールです</p>")
    url = _header_url(message)
    assert "つなぐ商店" in message.body and ADDRESS in message.body and url in message.body
    html = message.alternatives[0][0]
    assert "つなぐ商店" in html and ADDRESS in html and f'href="{url}"' in html


def test_every_campaign_mail_links_to_the_preference_centre(client, django_capture_on_commit_callbacks):
    message = _send(django_capture_on_commit_callbacks, body_text="セールです", body_html="<p>セールです</p>")
    links = re.findall(r"https?://\S+/campaigns/p/[^/\s]+/", message.body)
    assert len(links) == 1
    assert re.search(r'href="[^"]+/campaigns/p/[^"/]+/"', message.alternatives[0][0])
    page = client.get("/" + links[0].split("://", 1)[1].split("/", 1)[1])
    assert page.status_code == 200 and 'name="topics"' in page.content.decode()


def test_a_template_that_has_them_gets_nothing_twice(django_capture_on_commit_callbacks):
    body = "つなぐ商店 " + ADDRESS + "\n設定: {{ preferences_url }}\n停止: {{ unsubscribe_url }}"
    message = _send(django_capture_on_commit_callbacks, body_text=body, body_html="")
    url = _header_url(message)
    assert message.body.count(url) == 1 and message.body.count(ADDRESS) == 1 and "\n--\n" not in message.body


def test_the_unsubscribe_link_in_the_body_works(client, django_capture_on_commit_callbacks):
    message = _send(django_capture_on_commit_callbacks, body_text="セールです", body_html="")
    url = _header_url(message)
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.post("/" + path).status_code in (200, 302)
    assert Customer.objects.get(email="hanako@example.jp").email_opt_in is False


def test_the_preview_shows_the_footer_as_it_will_be_sent(client):
    login_as(client, UserFactory(role="marketer"))
    campaign = CampaignFactory(body_text="セールです")
    assert ADDRESS in client.get(f"/campaigns/{campaign.public_id}/preview/").content.decode()
