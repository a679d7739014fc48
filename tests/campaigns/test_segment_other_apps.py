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
    assert mail.outbox[0].body.startswith("残高 1200 / ") and mail.outbox[0].body.endswith("失効 1200")
