import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from inventory.models import Reservation, StockLevel
from inventory.services import create_reservation
from inventory.tasks import expire_reservations_task, remind_expiring_holds_task

from .factories import CustomerFactory, ProductFactory, StoreFactory, stock

pytestmark = pytest.mark.django_db


def test_beat_expiry_releases_overdue_reservations_and_is_idempotent():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 2)
    rsv = create_reservation(customer=CustomerFactory(), store=store, product=product, quantity=2, kind="hold")
    Reservation.objects.filter(pk=rsv.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert expire_reservations_task.delay().get() == 1
    assert expire_reservations_task.delay().get() == 0
    assert StockLevel.objects.get().reserved == 0
    assert Reservation.objects.get().status == "expired"


def test_a_hold_about_to_expire_is_reminded_once(django_capture_on_commit_callbacks):
    store, product = StoreFactory(name="渋谷店"), ProductFactory()
    stock(store, product, 3)
    customer = CustomerFactory(email="hanako@example.jp")
    soon = create_reservation(customer=customer, store=store, product=product, quantity=1, kind="hold")
    later = create_reservation(customer=customer, store=store, product=product, quantity=1, kind="hold")
    Reservation.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + dt.timedelta(hours=5))
    assert remind_expiring_holds_task.delay().get() == 1
    assert remind_expiring_holds_task.delay().get() == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hanako@example.jp"]
    assert soon.pickup_code in mail.outbox[0].body
    assert Reservation.objects.get(pk=later.pk).reminder_sent_at is None


def test_no_reminder_without_an_email_address():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    rsv = create_reservation(customer=CustomerFactory(email=""), store=store, product=product, quantity=1, kind="hold")
    Reservation.objects.filter(pk=rsv.pk).update(expires_at=timezone.now() + dt.timedelta(hours=1))
    remind_expiring_holds_task.delay()
    assert mail.outbox == []
