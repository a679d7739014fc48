"""Celery beat tasks and reads other apps reuse."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from loyalty.models import PointAccount, PointLot
from loyalty.selectors import customers_with_points_expiring
from loyalty.tasks import expire_points_task, recalculate_tiers_task
from tests.crm.factories import CustomerFactory

from .factories import award, sell

pytestmark = pytest.mark.django_db


def test_beat_runs_expiry_and_tier_recalculation_daily():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"loyalty.expire_points", "loyalty.recalculate_tiers"} <= tasks


def test_expiry_task_expires_due_lots_and_is_idempotent():
    customer = CustomerFactory()
    award(customer, 40)
    PointLot.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert expire_points_task.delay().get()["points"] == 40
    assert expire_points_task.delay().get()["points"] == 0
    assert PointAccount.objects.get(customer=customer).balance == 0


def test_tier_task_moves_big_spenders_up():
    customer = CustomerFactory()
    sell(customer, price=200_000)
    assert recalculate_tiers_task.delay().get() == 1
    assert PointAccount.objects.get(customer=customer).tier.code == "gold"


def test_customers_with_points_expiring_soon_for_segments():
    soon, later, little = CustomerFactory(), CustomerFactory(), CustomerFactory()
    award(soon, 500)
    award(later, 500)
    award(little, 5)
    PointLot.objects.filter(account__customer__in=[soon, little]).update(
        expires_at=timezone.now() + dt.timedelta(days=10)
    )
    assert list(customers_with_points_expiring(within_days=30, min_points=100)) == [soon.pk]


def test_batch_transaction_ids_are_ulids_like_every_public_id():
    from ulid import ULID

    from loyalty.services.expiry import new_transaction_ids

    ids = new_transaction_ids(1000)
    assert len(set(ids)) == 1000
    assert all(i.startswith("ptx_") and len(i) == 30 for i in ids)
    assert abs((ULID.from_str(ids[0][4:]).datetime - timezone.now()).total_seconds()) < 5
