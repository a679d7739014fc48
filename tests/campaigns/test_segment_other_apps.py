"""Segment fields that read loyalty, the contact hub and reservations."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.segments import segment_customers
from campaigns.services import start_campaign
from inventory.models import Reservation
from loyalty.models import PointAccount, PointLot, Tier
from tests.channels_hub.factories import TicketFactory
from tests.loyalty.factories import award

from .factories import CampaignFactory, CustomerFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


def ids(rules):
    return set(segment_customers(rules).values_list("public_id", flat=True))


def test_points_balance_tier_and_expiring_points():
    rich, poor, none = CustomerFactory(), CustomerFactory(), CustomerFactory()
    award(rich, 5000)
    award(poor, 100)
    gold = Tier.objects.order_by("-min_spend").first()
    PointAccount.objects.filter(customer=rich).update(tier=gold)
    PointLot.objects.filter(account__customer=poor).update(expires_at=timezone.now() + dt.timedelta(days=10))
    assert ids({"field": "points_balance", "op": "gte", "value": 1000}) == {rich.public_id}
    assert ids({"field": "points_balance", "op": "lte", "value": 100}) == {poor.public_id, none.public_id}
    assert ids({"field": "tier", "op": "eq", "value": gold.code}) == {rich.public_id}
    base = Tier.objects.order_by("min_spend").first().code
    assert ids({"field": "tier", "op": "in", "value": [base]}) == {poor.public_id, none.public_id}
    assert ids({"field": "points_expiring", "op": "gte", "value": 50, "within_days": 30}) == {poor.public_id}
    assert ids({"field": "points_expiring", "op": "gte", "value": 50, "within_days": 5}) == set()


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gte", 0, {"rich", "poor", "empty", "none"}),  # customers without an account have 0 points
        ("gte", 1, {"rich", "poor"}),
        ("gte", 100, {"rich", "poor"}),
        ("gte", 101, {"rich"}),
        ("gte", 5000, {"rich"}),
        ("gte", 5001, set()),
        ("lte", 0, {"empty", "none"}),
        ("lte", 99, {"empty", "none"}),
        ("lte", 100, {"poor", "empty", "none"}),
        ("lte", 5000, {"rich", "poor", "empty", "none"}),
    ],
)
def test_points_balance_edges_count_customers_without_an_account_as_zero(op, value, expected):
    people = {
        "rich": CustomerFactory(),
        "poor": CustomerFactory(),
        "empty": CustomerFactory(),
        "none": CustomerFactory(),
    }
    award(people["rich"], 5000)
    award(people["poor"], 100)
    PointAccount.objects.create(customer=people["empty"])  # an account spent down to 0
    rule = {"field": "points_balance", "op": op, "value": value}
    names = {c.public_id: name for name, c in people.items()}
    assert {names[i] for i in ids(rule)} == expected
    # the same inside groups: `any` with a rule nobody meets, and a double negation
    nobody = {"field": "prefecture", "op": "eq", "value": "沖縄県"}
    assert {names[i] for i in ids({"any": [nobody, rule]})} == expected
    assert {names[i] for i in ids({"not": {"not": rule}})} == expected
    assert {names[i] for i in ids({"not": rule})} == set(people) - expected


def test_points_balance_compiles_to_exists_not_a_scalar_subquery():
    sql = str(segment_customers({"field": "points_balance", "op": "gte", "value": 1000}).query).upper()
    assert "EXISTS" in sql and "COALESCE" not in sql


def test_points_expiring_of_zero_or_more_is_everyone():
    rich, none = CustomerFactory(), CustomerFactory()
    award(rich, 10)
    rule = {"field": "points_expiring", "op": "gte", "value": 0, "within_days": 30}
    assert ids(rule) == {rich.public_id, none.public_id}
    assert ids({"any": [{"field": "prefecture", "op": "eq", "value": "沖縄県"}, rule]}) == {
        rich.public_id,
        none.public_id,
    }


def test_open_ticket_with_category():
    complained, closed, calm = CustomerFactory(), CustomerFactory(), CustomerFactory()
    TicketFactory(customer=complained, category="returns", status="open")
    TicketFactory(customer=closed, category="returns", status="closed")
    assert ids({"field": "open_ticket", "op": "eq", "value": True}) == {complained.public_id}
    assert ids({"field": "open_ticket", "op": "eq", "value": True, "category": "sizing"}) == set()
    assert ids({"not": {"field": "open_ticket", "op": "eq", "value": True}}) == {closed.public_id, calm.public_id}


def test_no_show():
    missed, fine = CustomerFactory(), CustomerFactory()
    common = {"kind": "hold", "store": StoreFactory(), "product": ProductFactory(), "quantity": 1}
    Reservation.objects.create(customer=missed, status="expired", pickup_code="A1", expires_at=timezone.now(), **common)
    Reservation.objects.create(customer=fine, status="fulfilled", pickup_code="B2", expires_at=timezone.now(), **common)
    assert ids({"field": "no_show", "op": "eq", "value": True, "within_days": 30}) == {missed.public_id}


def test_mail_shows_points_tier_and_expiring_points(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    award(customer, 1200)
    PointLot.objects.filter(account__customer=customer).update(expires_at=timezone.now() + dt.timedelta(days=7))
    campaign = CampaignFactory(
        body_text="残高 {{ customer.points_balance }} / {{ customer.tier }} / 失効 {{ customer.points_expiring }}"
    )
    with django_capture_on_commit_callbacks(execute=True):
        start_campaign(campaign=campaign)
    body = mail.outbox[0].body.split("\n\n--\n")[0]  # the legal footer (sender, unsubscribe) follows
    assert body.startswith("残高 1200 / ") and body.endswith("失効 1200")
