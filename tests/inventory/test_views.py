import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.registry import panels_for
from inventory.models import Discrepancy, Reservation, StockLevel
from inventory.selectors import reservation_timeline
from inventory.services import create_reservation
from inventory.views import reservations_panel_context
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    store = StoreFactory(code="S1", name="渋谷店", prefecture="東京都")
    return store, ProductFactory(sku="COAT-1", name="ウールコート")


@pytest.fixture
def clerk(client, shop):
    user = UserFactory(role="store_staff", store=shop[0])
    login_as(client, user)
    return user


def text(response) -> str:
    return response.content.decode()


def reserve(store, product, kind="hold", customer=None, **kw):
    return create_reservation(
        customer=customer or CustomerFactory(), store=store, product=product, quantity=1, kind=kind, **kw
    )


def test_stock_page_shows_stock_here_and_in_nearby_stores(client, clerk, shop, django_assert_max_num_queries):
    store, product = shop
    nearby = StoreFactory(code="S2", name="新宿店", prefecture="東京都")
    far = StoreFactory(code="S3", name="梅田店", prefecture="大阪府")
    warehouse = WarehouseFactory()
    for where, qty in [(store, 4), (nearby, 2), (far, 9), (warehouse, 30)]:
        stock(where, product, qty)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("inventory:stock"), {"q": "COAT"})
    body = text(response)
    assert response.status_code == 200
    assert "ウールコート" in body and "新宿店" in body and "EC倉庫" in body
    assert "梅田店" not in body.split("<table")[1]  # other prefectures are not "nearby"


def test_stock_page_is_forbidden_without_the_permission(client, shop):
    login_as(client, UserFactory())
    assert client.get(reverse("inventory:stock")).status_code == 403


def test_todays_reservations_list_pickups_holds_and_todays_try_ons(client, clerk, shop):
    store, product = shop
    stock(store, product, 5)
    hold = reserve(store, product)
    later = timezone.now() + dt.timedelta(days=2)
    tomorrow_try_on = reserve(store, product, kind="try_on", slot_start=later)
    response = client.get(reverse("inventory:reservations"))
    body = text(response)
    assert hold.pickup_code in body
    assert tomorrow_try_on.pickup_code not in body


def test_staff_hand_over_and_cancel_with_post_buttons(client, clerk, shop):
    store, product = shop
    stock(store, product, 2)
    a, b = reserve(store, product), reserve(store, product)
    response = client.post(reverse("inventory:reservation_fulfil", args=[a.public_id]), {"confirm": "1"})
    assert response.status_code == 302
    client.post(reverse("inventory:reservation_cancel", args=[b.public_id]), {"confirm": "1"})
    assert set(Reservation.objects.values_list("status", flat=True)) == {"fulfilled", "cancelled"}
    level = StockLevel.objects.get(store=store)
    assert (level.on_hand, level.reserved) == (1, 0)
    again = client.post(reverse("inventory:reservation_cancel", args=[a.public_id]), {"confirm": "1"}, follow=True)
    assert "message error" in text(again)
    assert Reservation.objects.get(pk=a.pk).status == "fulfilled"


def test_buttons_need_the_csrf_token(clerk, shop):
    store, product = shop
    stock(store, product, 1)
    rsv = reserve(store, product)
    client = Client(enforce_csrf_checks=True)
    login_as(client, clerk)
    response = client.post(reverse("inventory:reservation_fulfil", args=[rsv.public_id]), {"confirm": "1"})
    assert response.status_code == 403
    assert Reservation.objects.get().status == "active"


def test_a_marketer_can_look_but_not_hand_over(client, shop):
    store, product = shop
    stock(store, product, 1)
    rsv = reserve(store, product)
    login_as(client, UserFactory(role="marketer"))
    assert client.get(reverse("inventory:reservations"), {"store": "S1"}).status_code == 200
    url = reverse("inventory:reservation_fulfil", args=[rsv.public_id])
    assert client.post(url, {"confirm": "1"}).status_code == 403
    assert Reservation.objects.get().status == "active"


def test_staff_reserve_for_a_member_at_the_counter(client, clerk, shop):
    store, product = shop
    stock(store, product, 1)
    customer = CustomerFactory()
    data = {"store": "S1", "customer": customer.member_number, "sku": "COAT-1", "quantity": 1, "kind": "hold"}
    response = client.post(reverse("inventory:reservation_create"), data)
    assert response.status_code == 302
    assert Reservation.objects.get().customer_id == customer.pk


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"customer": "000000000000"}, "No member matches this."),
        ({"sku": "NOPE"}, "Unknown SKU."),
        ({"quantity": 0}, "Ensure this value is greater than or equal to 1."),
        ({"quantity": 5}, "Only 1 available at this store."),
        ({"kind": "try_on"}, "A try-on needs a time slot."),
    ],
)
def test_bad_counter_reservations_show_the_error_and_write_nothing(client, clerk, shop, overrides, message):
    store, product = shop
    stock(store, product, 1)
    customer = CustomerFactory()
    data = {"store": "S1", "customer": customer.member_number, "sku": "COAT-1", "quantity": 1, "kind": "hold"}
    response = client.post(reverse("inventory:reservation_create"), {**data, **overrides})
    assert response.status_code == 400
    assert message in text(response)
    assert Reservation.objects.count() == 0


def test_discrepancies_are_reviewed_and_resolved(client, clerk, shop):
    store, product = shop
    o = order(store=store, lines=[(product, 2)])
    page = text(client.get(reverse("inventory:discrepancies")))
    assert o.public_id in page
    d = Discrepancy.objects.get()
    client.post(reverse("inventory:discrepancy_resolve", args=[d.public_id]), {"note": "棚の奥にあった", "counted": 1})
    d.refresh_from_db()
    assert (d.status, d.note, d.resolved_by_id, d.counted) == ("resolved", "棚の奥にあった", clerk.pk, 1)
    assert o.public_id not in text(client.get(reverse("inventory:discrepancies")))


def test_reservations_panel_and_timeline_on_the_customer_page(client, clerk, shop, django_assert_num_queries):
    store, product = shop
    stock(store, product, 5)
    customer = CustomerFactory()
    for _ in range(3):
        reserve(store, product, customer=customer)
    panel = next(p for p in panels_for(clerk) if p.key == "reservations")
    request = client.get(reverse("crm:customer_detail", args=[customer.public_id])).wsgi_request
    with django_assert_num_queries(1):
        context = reservations_panel_context(customer, request)
        html = render_to_string(panel.template, {**context, "customer": customer}, request=request)
    assert html.count("<tr>") == 4
    with django_assert_num_queries(1):
        entries = reservation_timeline(customer=customer, limit=20)
    assert [e.kind for e in entries] == ["reservation"] * 3
    page = text(client.get(reverse("crm:customer_detail", args=[customer.public_id])))
    assert 'id="panel-reservations"' in page
