"""Store staff register a member (with consent, warned about possible duplicates first) and edit a
member's profile, address and consent, without the admin (issue 14, item 6)."""

import datetime as dt

import pytest
from django.urls import reverse

from crm.models import Customer
from tests.crm.factories import CustomerFactory, StoreFactory, UserFactory
from tests.mfa import login_as

pytestmark = pytest.mark.django_db
NEW = reverse("crm:customer_create")


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def clerk(client):
    user = UserFactory(role="store_staff")
    login_as(client, user)
    return user


def form(**overrides):
    data = {
        "family_name": "佐藤", "given_name": "美咲", "family_name_kana": "さとう", "given_name_kana": "ﾐｻｷ",
        "email": "Misaki.Sato@Example.jp", "phone": "080-3333-4444", "birth_date": "1992-07-15",
        "postal_code": "1500001", "prefecture": "東京都", "address": "渋谷区神宮前1-2-3", "email_opt_in": "on",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_clerk_registers_a_member_with_consent_from_the_search_page(client, clerk):
    store = StoreFactory(code="SHIBUYA")
    assert 'id="register-member"' in text(client.get(reverse("crm:customer_search")))
    response = client.post(NEW, form(home_store=store.pk))
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert response["Location"] == reverse("crm:customer_detail", args=[customer.public_id])
    assert customer.email == "misaki.sato@example.jp" and customer.phone == "+818033334444"
    assert customer.family_name_kana == "サトウ" and customer.given_name_kana == "ミサキ"
    assert customer.postal_code == "150-0001" and customer.home_store == store
    assert customer.email_opt_in and customer.email_opt_in_at is not None and customer.email_opt_in_source == "store"
    assert not customer.sms_opt_in and len(customer.member_number) == 12
    page = text(client.get(response["Location"]))
    assert customer.member_number in page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"family_name": ""}, "family_name"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"postal_code": "15-01"}, "postal_code"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "yesterday"}, "birth_date"),
        ({"prefecture": "東京"}, "prefecture"),
        ({"home_store": "999999"}, "home_store"),
        ({"family_name": "x" * 51}, "family_name"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_nothing_is_written(client, clerk, overrides, field):
    response = client.post(NEW, form(**overrides))
    assert response.status_code == 400
    assert field in response.context["form"].errors, response.context["form"].errors
    assert 'aria-invalid="true"' in text(response)
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "overrides",
    [{"email": "MISAKI@example.jp"}, {"phone": "+81 80 3333 4444", "email": ""},
     {"email": "", "phone": "", "family_name_kana": "サトウ", "given_name_kana": "ミサキ"}],
)  # fmt: skip
def test_a_possible_duplicate_is_shown_before_creating_and_creating_needs_a_confirmation(client, clerk, overrides):
    existing = CustomerFactory(email="misaki@example.jp", phone="+818033334444", family_name_kana="サトウ",
                               given_name_kana="ミサキ", birth_date=dt.date(1992, 7, 15))  # fmt: skip
    response = client.post(NEW, form(**overrides))
    assert response.status_code == 400 and 'id="member-duplicates"' in text(response)
    assert existing.member_number in text(response)
    assert Customer.objects.count() == 1
    confirmed = client.post(NEW, form(**overrides, confirm_new="1"))
    assert confirmed.status_code == 302 and Customer.objects.count() == 2


def test_registration_page_in_japanese(client):
    login_as(client, UserFactory(role="store_staff", language="ja"))
    page = text(client.get(NEW))
    assert "会員登録" in page and "メールでのお知らせ" in page


def test_a_clerk_edits_address_and_consent_and_the_consent_change_is_stamped(client, clerk):
    customer = CustomerFactory(email_opt_in=True, sms_opt_in=False, prefecture="東京都", phone="+819012345678")
    edit = reverse("crm:customer_edit", args=[customer.public_id])
    assert 'id="edit-customer"' in text(client.get(reverse("crm:customer_detail", args=[customer.public_id])))
    page = text(client.get(edit))
    assert 'value="090-1234-5678"' in page
    data = {
        "family_name": customer.family_name, "given_name": customer.given_name,
        "family_name_kana": customer.family_name_kana, "given_name_kana": customer.given_name_kana,
        "email": customer.email, "phone": "090-1234-5678", "birth_date": "1990-04-01", "postal_code": "530-0001",
        "prefecture": "大阪府", "address": "北区梅田1-1", "sms_opt_in": "on",
    }  # fmt: skip
    response = client.post(edit, data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.prefecture, customer.address, customer.postal_code) == ("大阪府", "北区梅田1-1", "530-0001")
    assert customer.email_opt_in is False and customer.sms_opt_in is True
    assert customer.sms_opt_in_source == "store" and customer.sms_opt_in_at is not None
    assert customer.phone == "+819012345678"


def test_an_edit_with_a_bad_value_changes_nothing(client, clerk):
    customer = CustomerFactory(prefecture="東京都")
    edit = reverse("crm:customer_edit", args=[customer.public_id])
    response = client.post(edit, {"family_name": "田中", "email": "bad@", "prefecture": "大阪府"})
    assert response.status_code == 400 and "email" in response.context["form"].errors
    customer.refresh_from_db()
    assert customer.prefecture == "東京都"


def test_a_marketer_cannot_register_or_edit(client):
    login_as(client, UserFactory(role="marketer"))
    customer = CustomerFactory()
    assert client.get(NEW).status_code == 403
    assert client.post(reverse("crm:customer_edit", args=[customer.public_id]), form()).status_code == 403


def test_editing_a_merged_id_goes_to_the_survivor(client, clerk):
    from crm.services import merge_customers

    survivor, old = CustomerFactory(), CustomerFactory()
    merge_customers(winner=survivor, loser=old, reason="same")
    response = client.get(reverse("crm:customer_edit", args=[old.public_id]))
    assert response.status_code == 302 and survivor.public_id in response["Location"]
