import pytest
from django.urls import reverse

from inventory.models import Reservation, StockLevel, Transfer
from inventory.services import create_reservation
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CustomerFactory, ProductFactory, StoreFactory, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    login_as(client, UserFactory(role="admin"))
    return client


def test_ledgers_are_read_only_in_the_admin(admin_client):
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 3)
    for model in ("stocklevel", "stockmovement"):
        assert admin_client.get(reverse(f"admin:inventory_{model}_changelist")).status_code == 200
        assert admin_client.get(reverse(f"admin:inventory_{model}_add")).status_code == 403


def test_adding_a_transfer_in_the_admin_ships_it_and_the_action_receives_it(admin_client):
    a, b, product = StoreFactory(), StoreFactory(), ProductFactory()
    stock(a, product, 5)
    data = {"from_store": a.pk, "to_store": b.pk, "product": product.pk, "quantity": 2, "note": ""}
    response = admin_client.post(reverse("admin:inventory_transfer_add"), data)
    assert response.status_code == 302
    transfer = Transfer.objects.get()
    assert StockLevel.objects.get(store=a).on_hand == 3
    admin_client.post(
        reverse("admin:inventory_transfer_changelist"),
        {"action": "receive_selected", "_selected_action": [transfer.pk]},
    )
    assert StockLevel.objects.get(store=b).on_hand == 2


def test_a_transfer_beyond_stock_is_refused_in_the_admin_and_writes_nothing(admin_client):
    a, b, product = StoreFactory(), StoreFactory(), ProductFactory()
    stock(a, product, 1)
    data = {"from_store": a.pk, "to_store": b.pk, "product": product.pk, "quantity": 2, "note": ""}
    response = admin_client.post(reverse("admin:inventory_transfer_add"), data, follow=True)
    assert "Only 1 available to ship." in response.content.decode()
    assert Transfer.objects.count() == 0
    assert StockLevel.objects.get(store=a).on_hand == 1


def test_cancelling_reservations_from_the_admin_releases_stock(admin_client):
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    rsv = create_reservation(customer=CustomerFactory(), store=store, product=product, quantity=1, kind="hold")
    admin_client.post(
        reverse("admin:inventory_reservation_changelist"),
        {"action": "cancel_selected", "_selected_action": [rsv.pk]},
    )
    assert Reservation.objects.get().status == "cancelled"
    assert StockLevel.objects.get().reserved == 0
