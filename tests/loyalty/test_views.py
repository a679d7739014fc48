"""Staff pages: the points panel on the customer page, the counter form, the finance page."""

import re

import pytest
from django.urls import reverse

from loyalty.models import PointAccount, PointTransaction
from tests.crm.factories import CustomerFactory, StoreFactory, UserFactory
from tests.mfa import login_as

from .factories import award, sell

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def login(client, role):
    user = UserFactory(role=role, store=StoreFactory(code="SHIBUYA") if role == "store_staff" else None)
    login_as(client, user)
    return user


def detail(customer):
    return reverse("crm:customer_detail", args=[customer.public_id])


def counter(customer):
    return reverse("loyalty:counter", args=[customer.public_id])


def test_the_customer_page_shows_balance_tier_expiring_points_and_last_transactions(
    client, django_assert_max_num_queries
):
    login(client, "agent")
    customer = CustomerFactory()
    sell(customer, price=12000)
    award(customer, 50, reason="お誕生日ポイント")
    with django_assert_max_num_queries(30):
        response = client.get(detail(customer))
    body = text(response)
    assert 'id="panel-loyalty"' in body
    assert '<strong class="points-balance">170</strong>' in body
    assert "レギュラー" in body and "お誕生日ポイント" in body
    assert 'class="points-counter"' not in body  # agents look, store staff redeem and award


def test_the_points_panel_runs_a_fixed_number_of_queries(rf, django_assert_num_queries):
    from loyalty import selectors
    from loyalty.panels import loyalty_context

    customer = CustomerFactory()
    for i in range(5):
        award(customer, 10, reference=f"A{i}")
    request = rf.get("/")
    request.user = UserFactory(role="store_staff")
    request.user.has_perm("loyalty.add_pointtransaction")  # warm the permission cache
    selectors.rules.get()  # and the process's copy of the loyalty rules (tiers, earn rules, campaigns)
    with django_assert_num_queries(3):  # account+tier, expiring soon, last transactions
        context = loyalty_context(customer, request)
    assert context["account"].balance == 50 and len(context["transactions"]) == 5


def test_store_staff_redeem_at_the_counter_with_a_reason(client):
    staff = login(client, "store_staff")
    customer = CustomerFactory()
    award(customer, 100)
    page = text(client.get(detail(customer)))
    reference = re.search(r'name="reference" value="(\w+)"', page).group(1)
    form = {"action": "redeem", "points": "30", "reason": "レジでの利用", "reference": reference}
    response = client.post(counter(customer), form)
    assert response.status_code == 302 and response["Location"].endswith("#panel-loyalty")
    client.post(counter(customer), form)  # a double click records one transaction
    txn = PointTransaction.objects.get(kind="redeem")
    assert txn.points == -30 and txn.actor == staff and txn.store.code == "SHIBUYA" and txn.reason == "レジでの利用"
    assert PointAccount.objects.get(customer=customer).balance == 70


def test_store_staff_award_points_with_a_reason(client):
    login(client, "store_staff")
    customer = CustomerFactory()
    client.post(counter(customer), {"action": "award", "points": "200", "reason": "お詫び", "reference": "t1"})
    assert PointAccount.objects.get(customer=customer).balance == 200


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "redeem", "points": "101", "reason": "x", "reference": "t"}, "100"),
        ({"action": "redeem", "points": "0", "reason": "x", "reference": "t"}, "points"),
        ({"action": "redeem", "points": "abc", "reason": "x", "reference": "t"}, "points"),
        ({"action": "award", "points": "10", "reason": "", "reference": "t"}, "reason"),
        ({"action": "steal", "points": "10", "reason": "x", "reference": "t"}, "action"),
    ],
)
def test_bad_counter_input_is_400_with_the_error_and_writes_nothing(client, form, message):
    login(client, "store_staff")
    customer = CustomerFactory()
    award(customer, 100)
    response = client.post(counter(customer), form)
    assert response.status_code == 400
    assert message in text(response)
    assert PointTransaction.objects.count() == 1 and PointAccount.objects.get(customer=customer).balance == 100


def test_agents_cannot_use_the_counter_form(client):
    login(client, "agent")
    customer = CustomerFactory()
    response = client.post(counter(customer), {"action": "award", "points": "10", "reason": "x", "reference": "t"})
    assert response.status_code == 403
    assert not PointTransaction.objects.exists()


def test_finance_page_is_for_admins_and_shows_the_liability(client, django_assert_max_num_queries):
    login(client, "admin")
    award(CustomerFactory(), 1500)
    sell(CustomerFactory(), price=10000, channel="store")
    with django_assert_max_num_queries(8):
        response = client.get(reverse("loyalty:finance"))
    body = text(response)
    assert response.status_code == 200
    assert '<td class="num total-points">1600</td>' in body and "¥1,600" in body
    assert reverse("loyalty:finance") in body  # in the menu


@pytest.mark.parametrize("role", ["store_staff", "agent", "marketer"])
def test_finance_page_is_403_for_other_roles(client, role):
    login(client, role)
    assert client.get(reverse("loyalty:finance")).status_code == 403


def test_the_points_panel_speaks_japanese(client):
    login_as(client, UserFactory(role="store_staff", language="ja"))
    customer = CustomerFactory()
    award(customer, 10)
    body = text(client.get(detail(customer)))
    assert "ポイント残高" in body and "最近のポイント取引" in body
