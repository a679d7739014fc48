"""Admin: rules, tiers and campaigns are editable; accounts and the ledger are read-only."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import EarnRule, PointAccount, PointCampaign, PointTransaction, Tier
from tests.crm.factories import CustomerFactory

from .factories import award, sell

pytestmark = pytest.mark.django_db


def admin_url(model, action, *args):
    return reverse(f"admin:loyalty_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def objects():
    customer = CustomerFactory()
    award(customer, 100)
    sell(customer, price=5000)
    now = timezone.now()
    campaign = PointCampaign.objects.create(
        name="ダブルポイント", multiplier=2, starts_at=now, ends_at=now + dt.timedelta(days=7)
    )
    return {
        EarnRule: EarnRule.objects.first(),
        Tier: Tier.objects.first(),
        PointCampaign: campaign,
        PointAccount: PointAccount.objects.get(customer=customer),
        PointTransaction: PointTransaction.objects.first(),
    }


@pytest.mark.parametrize("model", [EarnRule, Tier, PointCampaign, PointAccount, PointTransaction])
def test_every_loyalty_model_has_a_changelist_and_a_change_page(admin_client, objects, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "change", objects[model].pk)).status_code == 200


@pytest.mark.parametrize("model", [PointAccount, PointTransaction])
def test_accounts_and_the_ledger_cannot_be_added_or_changed_in_the_admin(admin_client, objects, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    page = admin_client.get(admin_url(model, "change", objects[model].pk)).content.decode()
    assert 'name="_save"' not in page


def test_the_account_page_shows_its_ledger(admin_client, objects):
    page = admin_client.get(admin_url(PointAccount, "change", objects[PointAccount].pk)).content.decode()
    assert objects[PointTransaction].public_id in page


def test_admins_change_the_earn_rate(admin_client):
    rule = EarnRule.objects.get(channel="ec")
    response = admin_client.post(
        admin_url(EarnRule, "change", rule.pk),
        {"channel": "ec", "yen_per_unit": 200, "points_per_unit": 1, "active": "on"},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.yen_per_unit == 200
