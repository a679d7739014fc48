"""Erasure against real concurrent writes on PostgreSQL (threads with their own connections): orders
for the person and a second erasure running at the same moment leave no half-erased rows and sound
ledgers."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import Customer, CustomerErasure, Order
from crm.privacy.services import AlreadyErased, erase_customer
from crm.services import record_order
from loyalty.models import PointAccount, PointTransaction
from tests.concurrency import run_concurrently
from tests.loyalty.factories import award

from .factories import CustomerFactory, ProductFactory, StoreFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_orders_for_her_while_she_is_erased_are_all_kept_and_the_ledgers_agree():
    customer = CustomerFactory(email="hanako@example.jp")
    award(customer, 1000)
    store, product = StoreFactory(), ProductFactory()

    def work(i: int):
        if i == 0:
            return erase_customer(customer_id=customer.public_id, reason="request")
        return record_order(
            source="pos", external_ref=f"R-{i}", channel="store", store=store, customer=customer,
            ordered_at=timezone.now() - dt.timedelta(minutes=1), redeem_points=100,
            lines=[{"product": product, "quantity": 1, "unit_price": 5000}],
        )  # fmt: skip

    results = run_concurrently(work, 6)
    assert not [r for r in results if isinstance(r, Exception)], results
    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.email == "" and customer.family_name == ""
    assert Order.objects.filter(customer=customer).count() == 5
    account = PointAccount.objects.get(customer=customer)
    assert account.balance == sum(PointTransaction.objects.filter(account=account).values_list("points", flat=True))
    call_command("check_points", stdout=io.StringIO())
    call_command("check_stock", stdout=io.StringIO(), stderr=io.StringIO())


def test_two_erasures_at_once_erase_once():
    customer = CustomerFactory()
    results = run_concurrently(lambda i: erase_customer(customer_id=customer.public_id, reason=f"r{i}"), 2)
    assert sorted(type(r).__name__ for r in results) == sorted(["CustomerErasure", AlreadyErased.__name__])
    assert CustomerErasure.objects.count() == 1
    assert Customer.objects.get(pk=customer.pk).erased_at is not None
