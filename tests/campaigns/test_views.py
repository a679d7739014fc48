import json

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.test import RequestFactory

from campaigns.models import Campaign, CampaignRecipient, Segment
from campaigns.services import start_campaign
from crm import registry
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CampaignFactory, CustomerFactory, SegmentFactory

pytestmark = pytest.mark.django_db
RULES = {"all": [{"field": "prefecture", "op": "in", "value": ["東京都"]}]}


@pytest.fixture
def marketer(client):
    user = UserFactory(role="marketer", email="mk@tsunagu.example")
    login_as(client, user)
    return user


def test_pages_need_login_and_the_marketer_role(client):
    assert client.get("/campaigns/").status_code == 302
    login_as(client, UserFactory(role="store_staff"))
    assert client.get("/campaigns/segments/new/").status_code == 403
    assert client.post("/campaigns/new/", {}).status_code == 403


def test_nav_item_for_marketers(client, marketer):
    assert 'href="/campaigns/"' in client.get("/customers/").content.decode()


def test_segment_builder_live_count_and_sample(client, marketer):
    tanaka = CustomerFactory(family_name="田中")
    CustomerFactory(prefecture="大阪府")
    page = client.get("/campaigns/segments/new/")
    assert page.status_code == 200 and 'hx-post="/campaigns/segments/preview/"' in page.content.decode()
    response = client.post("/campaigns/segments/preview/", {"rules": json.dumps(RULES)}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and '<strong class="segment-count">1</strong>' in body
    assert tanaka.public_id in body


def test_segment_builder_says_what_is_wrong_in_words(client, marketer):
    bad = {"all": [{"field": "prefecture", "op": "gte", "value": 1}]}
    body = client.post("/campaigns/segments/preview/", {"rules": json.dumps(bad)}).content.decode()
    assert "<strong>Condition 1 (Prefecture)</strong>" in body and "Choose one of: is, is one of." in body
    assert 'data-path="rules.all.0.op"' in body  # for the builder to mark the condition, not shown
    assert "JSON" in client.post("/campaigns/segments/preview/", {"rules": "{not json"}).content.decode()


def test_save_segment_and_bad_input_writes_nothing(client, marketer):
    response = client.post("/campaigns/segments/new/", {"name": "東京", "rules": json.dumps({"all": [{"field": "x"}]})})
    assert response.status_code == 400 and "Condition 1: Choose a field from the list." in response.content.decode()
    assert client.post("/campaigns/segments/new/", {"name": "", "rules": json.dumps(RULES)}).status_code == 400
    assert Segment.objects.count() == 0
    response = client.post("/campaigns/segments/new/", {"name": "東京", "rules": json.dumps(RULES)})
    segment = Segment.objects.get()
    assert response.status_code == 302 and segment.rules == RULES and segment.created_by == marketer


def _form(segment, **extra):
    return {
        "name": "冬", "segment": segment.pk, "subject": "{{ customer.family_name }}様",
        "from_email": "Shop <n@shop.jp>", "body_text": "本文 {{ unsubscribe_url }}", "body_html": "",
        "holdout_percent": 10, "throttle": "", "featured_skus": "", **extra,
    }  # fmt: skip


def test_create_campaign_form_and_template_errors(client, marketer):
    segment = SegmentFactory()
    response = client.post("/campaigns/new/", _form(segment, body_text="{{ name }}"))
    assert response.status_code == 400 and "name" in response.content.decode()
    assert Campaign.objects.count() == 0
    response = client.post("/campaigns/new/", _form(segment))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.public_id}/"
    assert campaign.holdout_percent == 10 and campaign.created_by == marketer


def test_detail_preview_for_a_real_customer_and_for_a_sample(client, marketer):
    customer = CustomerFactory(family_name="鈴木")
    campaign = CampaignFactory()
    assert client.get(f"/campaigns/{campaign.public_id}/").status_code == 200
    body = client.get(f"/campaigns/{campaign.public_id}/preview/?customer={customer.public_id}").content.decode()
    assert "鈴木様 冬のセール" in body
    assert "見本様" in client.get(f"/campaigns/{campaign.public_id}/preview/").content.decode()
    assert "cus_nope" not in client.get(f"/campaigns/{campaign.public_id}/preview/?customer=cus_nope").content.decode()


def test_preview_lists_template_errors(client, marketer):
    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(body_text="{{ customer.nickname }}")
    body = client.get(f"/campaigns/{campaign.public_id}/preview/").content.decode()
    assert "customer.nickname" in body and "template-problems" in body


def test_test_send_to_staff_only(client, marketer):
    campaign = CampaignFactory()
    url = f"/campaigns/{campaign.public_id}/test/"
    assert client.post(url, {"to": "outsider@example.jp"}).status_code == 400
    assert client.post(url, {"to": "not-an-email"}).status_code == 400
    assert mail.outbox == []
    assert client.post(url, {"to": marketer.email}).status_code == 302
    assert mail.outbox[0].to == [marketer.email] and "見本" in mail.outbox[0].subject


def test_actions_send_pause_cancel_and_bad_action(client, marketer, django_capture_on_commit_callbacks):
    CustomerFactory.create_batch(2)
    campaign = CampaignFactory()
    url = f"/campaigns/{campaign.public_id}/action/"
    assert client.post(url, {"action": "explode"}).status_code == 404
    assert client.post(url, {"action": "schedule", "scheduled_at": "2000-01-01T10:00"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "send"}).status_code == 302
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "send"})
    assert len(mail.outbox) == 2
    response = client.get(f"/campaigns/{campaign.public_id}/")
    assert response.status_code == 200 and 'id="count-sent">2<' in response.content.decode()


def test_unsubscribe_page_invalid_token_is_404_page(client):
    response = client.get("/campaigns/u/bogus/")
    assert response.status_code == 404 and "<h1>" in response.content.decode()


def test_list_pages_run_a_fixed_number_of_queries(client, marketer, django_assert_max_num_queries):
    for _ in range(5):
        CampaignFactory()
    with django_assert_max_num_queries(8):
        assert client.get("/campaigns/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/campaigns/segments/").status_code == 200


def test_customer_panel_and_timeline_queries_are_pinned(django_capture_on_commit_callbacks, django_assert_num_queries):
    customer = CustomerFactory()
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            start_campaign(campaign=CampaignFactory())
    CampaignRecipient.objects.filter(customer=customer).update(opened_at="2026-01-01T00:00:00Z")
    panel = registry._panels["campaign_mails"]
    request = RequestFactory().get("/")
    request.user = UserFactory(role="agent")
    with django_assert_num_queries(2):
        context = panel.get_context(customer, request)
    with django_assert_num_queries(0):
        html = render_to_string(panel.template, {**context, "customer": customer, "perms": {}})
    assert "3" in html
    with django_assert_num_queries(1):
        entries = registry._timeline_sources["campaigns.mails"](customer=customer, limit=10)
    assert len(entries) == 3 and entries[0].kind == "campaign_mail"


def test_customer_page_shows_the_campaign_panel(client, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        start_campaign(campaign=CampaignFactory(name="夏のセール"))
    login_as(client, UserFactory(role="agent"))
    body = client.get(f"/customers/{customer.public_id}/").content.decode()
    assert "panel-campaign_mails" in body


# --- Security: the preview cannot run script (audit finding 1) ---------------------------------
HOSTILE = '<script>alert("x")</script><img src=x>'  # a name fits 50 characters


def test_preview_escapes_the_text_body_and_the_customers_data(client, marketer):
    customer = CustomerFactory(family_name=HOSTILE, given_name='"><svg onload=alert(2)>')
    campaign = CampaignFactory(
        subject="{{ customer.family_name }} <b>sale</b>",
        body_text="<script>alert('text')</script> {{ customer.family_name }} {{ customer.given_name }}",
    )
    for url in (f"/campaigns/{campaign.public_id}/preview/?customer={customer.public_id}",
                f"/campaigns/{campaign.public_id}/preview/"):  # fmt: skip
        body = client.get(url).content.decode()
        assert "<script>" not in body and "<img src=x" not in body and "<svg" not in body and "<b>sale" not in body
    body = client.get(f"/campaigns/{campaign.public_id}/preview/?customer={customer.public_id}").content.decode()
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_preview_html_body_is_served_alone_under_a_sandbox_policy(client, marketer):
    customer = CustomerFactory(family_name=HOSTILE)
    campaign = CampaignFactory(
        body_html='<p class="x">{{ customer.family_name }}</p><a href="https://shop.example/sale">Sale</a>'
        "<script>parent.document.title='owned'</script>"
    )
    fragment = client.get(f"/campaigns/{campaign.public_id}/preview/?customer={customer.public_id}").content.decode()
    assert "srcdoc" not in fragment and "<script>" not in fragment
    src = f"/campaigns/{campaign.public_id}/preview/html/?customer={customer.public_id}"
    assert f'sandbox="" src="{src.replace("&", "&amp;")}"' in fragment
    response = client.get(src)
    assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "allow-scripts" not in policy and "allow-same-origin" not in policy
    assert "script-src 'none'" in policy or "default-src 'none'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN" and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<a href="https://shop.example/sale">Sale</a>' in html  # double-quoted links arrive intact
    assert "&lt;script&gt;alert(&quot;x&quot;)" in html  # the customer's data is escaped
    assert client.get(f"/campaigns/{campaign.public_id}/preview/html/?customer=cus_nope").status_code == 404


def test_preview_html_needs_the_marketer_role(client):
    campaign = CampaignFactory()
    assert client.get(f"/campaigns/{campaign.public_id}/preview/html/").status_code == 302
    login_as(client, UserFactory())
    assert client.get(f"/campaigns/{campaign.public_id}/preview/html/").status_code == 403


@pytest.mark.parametrize(
    "body_html",
    [
        "{{ customer.family_name|safe }}",
        "{{ products|safeseq }}",
        "{% autoescape off %}{{ customer.family_name }}{% endautoescape %}",
        "{% filter safe %}{{ customer.family_name }}{% endfilter %}",
    ],
)
def test_campaign_templates_may_not_turn_escaping_off(client, marketer, body_html):
    segment = SegmentFactory()
    response = client.post("/campaigns/new/", _form(segment, body_html=body_html))
    assert response.status_code == 400 and Campaign.objects.count() == 0


def test_after_an_action_staff_read_words_not_codes(client, marketer):
    campaign = CampaignFactory()
    url = f"/campaigns/{campaign.public_id}/action/"
    page = client.post(url, {"action": "schedule", "scheduled_at": "2000-01-01T10:00"}, follow=True).content.decode()
    assert "scheduled_at: " not in page
    assert "Send at: " in page  # the field’s label, not its code
    page = client.post(url, {"action": "cancel"}, follow=True).content.decode()
    assert "The campaign is cancelled." in page or "キャンペーンの配信を中止しました。" in page
    assert "Done:" not in page
