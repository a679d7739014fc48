"""Real concurrency against PostgreSQL: threads with their own connections, released together."""

import pytest
from rest_framework.test import APIClient

from crm.services import create_api_key
from loyalty.models import PointAccount, PointTransaction
from loyalty.selectors import accounts_out_of_balance
from loyalty.services import expire_points, redeem_points
from tests.concurrency import run_concurrently
from tests.crm.factories import CustomerFactory

from .factories import award

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def client():
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_api_key(name='pos', scopes=['loyalty:write'])[1]}")
    return c


def test_fifty_threads_redeeming_from_a_balance_for_ten_exactly_ten_succeed():
    customer = CustomerFactory()
    award(customer, 10)
    responses = run_concurrently(
        lambda i: client().post(
            f"/api/v1/loyalty/{customer.public_id}/redeem/",
            {"points": 1, "reference": f"R-{i}", "channel": "store"},
            format="json",
        ),
        50,
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 40, statuses
    account = PointAccount.objects.get(customer=customer)
    assert account.balance == 0
    assert sum(PointTransaction.objects.filter(account=account).values_list("points", flat=True)) == 0
    assert accounts_out_of_balance() == []


def test_the_same_idempotency_key_from_ten_threads_makes_one_transaction():
    customer = CustomerFactory()
    award(customer, 100)
    body = {"points": 7, "reference": "EC-1", "channel": "ec"}
    raw_client = client()
    responses = run_concurrently(
        lambda i: raw_client.post(
            f"/api/v1/loyalty/{customer.public_id}/redeem/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        ),
        10,
    )
    assert all(r.status_code in (200, 201, 409) for r in responses), [r.status_code for r in responses]
    assert PointTransaction.objects.filter(kind="redeem").count() == 1
    assert PointAccount.objects.get(customer=customer).balance == 93


def test_the_same_reference_from_ten_threads_redeems_once():
    customer = CustomerFactory()
    award(customer, 100)
    results = run_concurrently(
        lambda i: redeem_points(customer=customer, points=5, channel="store", reference="POS-9"), 10
    )
    assert sum(1 for txn, created in results if created) == 1
    assert PointAccount.objects.get(customer=customer).balance == 95


def test_expiry_racing_redemptions_keeps_the_ledger_whole():
    import datetime as dt

    from django.utils import timezone

    from loyalty.models import PointLot

    customers = [CustomerFactory() for _ in range(5)]
    for customer in customers:
        award(customer, 10)
        award(customer, 10)
    first_lots = PointLot.objects.order_by("pk")[::2]
    PointLot.objects.filter(pk__in=[lot.pk for lot in first_lots]).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )

    def work(i):
        if i == 0:
            return expire_points(batch_size=2)
        return redeem_points(customer=customers[i % 5], points=3, channel="store")

    results = run_concurrently(work, 11)
    assert accounts_out_of_balance() == []
    assert not [r for r in results[1:] if isinstance(r, Exception) and "insufficient" not in str(type(r)).lower()]
    assert PointLot.objects.filter(remaining__gt=0, expires_at__lte=timezone.now()).count() == 0
