import datetime as dt
import re

import pytest
from django.core import mail

from campaigns.models import Coupon, Journey, JourneyStep, MailPreference, Offer, Suppression
from campaigns.services.journeys import run_journey
from crm.models import Customer
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .coupon_support import make_coupon, make_offer
from .factories import CustomerFactory
from .journey_support import NOON, make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client):
    user = UserFactory(role="marketer", email="mk@tsunagu.example")
    login_as(client, user)
    return user


def test_journey_and_coupon_pages_need_the_marketer_role(client):
    assert client.get("/campaigns/journeys/").status_code == 302
    login_as(client, UserFactory(role="store_staff"))
    assert client.get("/campaigns/journeys/").status_code == 403
    assert client.get("/campaigns/journeys/new/").status_code == 403
    assert client.get("/campaigns/offers/").status_code == 200  # staff see offers (a customer asks at the till)
    assert client.post("/campaigns/offers/new/", {}).status_code == 403


def test_marketer_builds_a_welcome_journey_with_a_coupon_and_activates_it(client, marketer):
    offer = make_offer()
    response = client.post("/campaigns/journeys/new/", {
        "name": "ようこそ", "trigger": "customer_created", "from_email": "Shop <news@shop.example>",
        "stop_on_purchase": "on", "holdout_percent": "10",
        "steps-TOTAL_FORMS": "3", "steps-INITIAL_FORMS": "0",
        "steps-0-kind": "coupon", "steps-0-offer": str(offer.pk),
        "steps-1-kind": "email", "steps-1-subject": "ようこそ", "steps-1-body_text": "{{ coupon.printed }}",
        "steps-2-kind": "",
    })  # fmt: skip
    journey = Journey.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/journeys/{journey.public_id}/"
    assert list(journey.steps.values_list("kind", flat=True)) == ["coupon", "email"]
    client.post(f"/campaigns/journeys/{journey.public_id}/action/", {"action": "activate"})
    journey.refresh_from_db()
    assert journey.status == "active"
    page = client.get(f"/campaigns/journeys/{journey.public_id}/").content.decode()
    assert "ようこそ" in page and offer.name in page
    assert "/campaigns/journeys/" in client.get("/campaigns/journeys/").content.decode()


def test_a_bad_step_is_shown_on_its_row_and_nothing_is_saved(client, marketer):
    response = client.post("/campaigns/journeys/new/", {
        "name": "x", "trigger": "customer_created", "from_email": "Shop <news@shop.example>", "holdout_percent": "0",
        "steps-TOTAL_FORMS": "2", "steps-INITIAL_FORMS": "0",
        "steps-0-kind": "email", "steps-0-subject": "{% if %}", "steps-0-body_text": "x",
        "steps-1-kind": "wait", "steps-1-wait_days": "0",
    })  # fmt: skip
    assert response.status_code == 200
    assert response.content.decode().count('class="error"') >= 2
    assert Journey.objects.count() == 0 and JourneyStep.objects.count() == 0


@pytest.mark.parametrize(("language", "words"), [("ja", ["ジャーニー", "会員登録（ウェルカム）"]),
                                                 ("en", ["Journeys", "Customer created (welcome)"])])  # fmt: skip
def test_journey_and_coupon_pages_in_japanese_and_english(client, language, words):
    login_as(client, UserFactory(role="marketer", language=language))
    journey = make_journey()
    page = client.get("/campaigns/journeys/").content.decode()
    assert all(w in page for w in words)
    assert client.get(f"/campaigns/journeys/{journey.public_id}/").status_code == 200
    offer_page = client.get("/campaigns/offers/").content.decode()
    assert ("新しいオファー" if language == "ja" else "New offer") in offer_page


def test_marketer_creates_an_offer_and_issues_a_code_for_a_member(client, marketer):
    customer = CustomerFactory()
    response = client.post("/campaigns/offers/new/", {
        "name": "誕生日500円", "kind": "amount", "value": "500", "min_spend": "3000",
        "valid_from": "2026-01-01T00:00", "valid_until": "2099-01-01T00:00", "categories": "outerwear, shoes",
    })  # fmt: skip
    offer = Offer.objects.get()
    assert response.status_code == 302 and offer.categories == ["outerwear", "shoes"]
    response = client.post(
        f"/campaigns/offers/{offer.public_id}/", {"customer": customer.member_number, "max_uses": "1"}
    )
    coupon = Coupon.objects.get()
    assert coupon.customer == customer
    assert f"{coupon.code[:4]}-{coupon.code[4:8]}" in response.content.decode()


def test_offer_form_errors_name_the_field(client, marketer):
    response = client.post("/campaigns/offers/new/", {
        "name": "x", "kind": "percent", "value": "150", "valid_from": "2026-01-01T00:00",
        "valid_until": "2025-01-01T00:00",
    })  # fmt: skip
    assert response.status_code == 200 and Offer.objects.count() == 0
    assert response.content.decode().count('class="error"') >= 1


def test_customer_content_is_escaped_on_the_offer_page(client, marketer):
    coupon = make_coupon(customer=CustomerFactory(family_name="<script>alert(1)</script>"))
    page = client.get(f"/campaigns/offers/{coupon.offer.public_id}/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def _journey_mail(client):
    journey = make_journey()
    customer = CustomerFactory(email_opt_in=True)
    Customer.objects.filter(pk=customer.pk).update(created_at=NOON - dt.timedelta(days=1))
    run_journey(journey=journey, now=NOON)
    return customer, mail.outbox[-1].body


def test_unsubscribe_link_of_a_journey_mail_withdraws_consent(client):
    customer, body = _journey_mail(client)
    url = re.search(r"http://[^\s]+/campaigns/u/[^\s]+/", body).group(0).split("testserver")[-1]
    path = url[url.index("/campaigns/") :]
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    customer.refresh_from_db()
    assert customer.email_opt_in is False and Suppression.objects.filter(email=customer.email).exists()


def test_preference_centre_changes_topics_and_frequency(client):
    customer, body = _journey_mail(client)
    url = re.search(r"https?://\S+/campaigns/p/\S+/", body).group(0)
    path = url[url.index("/campaigns/") :]
    page = client.get(path)
    assert page.status_code == 200
    client.post(path, {"topics": ["news", "offers"], "max_per_week": "1"})
    preference = MailPreference.objects.get(customer=customer)
    assert preference.topics == ["news", "offers"] and preference.max_per_week == 1
    assert client.get("/campaigns/p/forged/").status_code == 404
    assert client.post(path, {"topics": ["spam"]}).status_code == 200
    assert MailPreference.objects.get(customer=customer).topics == ["news", "offers"]


def test_coupon_qr_code_is_served_for_a_signed_link_only(client):
    from campaigns.services.journeys import coupon_context

    coupon = make_coupon()
    url = coupon_context(coupon)["qr_url"]
    response = client.get(url[url.index("/campaigns/") :])
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert client.get(f"/campaigns/qr/{coupon.code}.svg").status_code == 404


def test_store_staff_see_a_customers_coupons_on_the_customer_page(client):
    customer = CustomerFactory()
    coupon = make_coupon(customer=customer)
    login_as(client, UserFactory(role="store_staff"))
    page = client.get(f"/customers/{customer.public_id}/").content.decode()
    assert coupon.code in page and coupon.offer.name in page
