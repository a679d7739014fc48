"""The store's fulfilment queue: ship-from-store orders, pickups to prepare, the ready shelf and
today's try-ons, with their actions, in Japanese and English; order status on the customer page."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from crm.models import Order
from crm.services import mark_order_ready, record_order, ship_order
from inventory.models import StockLevel
from inventory.selectors import stock_mismatches
from inventory.services import create_reservation
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, next_slot, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    store = StoreFactory(code="S1", name="渋谷店", prefecture="東京都")
    warehouse = WarehouseFactory()
    product = ProductFactory(sku="COAT-1", name="ウールコート")
    stock(store, product, 5)
    return store, warehouse, product


@pytest.fixture
def clerk(client, shop):
    user = UserFactory(role="store_staff", store=shop[0])
    login_as(client, user)
    return user


def ec_order(shop, ref, *, pickup=False, customer=None):
    store, warehouse, product = shop
    order, _ = record_order(
        source="ec", external_ref=ref, channel="ec", store=warehouse, ordered_at=dt.datetime.now(dt.UTC),
        customer=customer or CustomerFactory(family_name="山田", email="yamada@example.jp"),
        lines=[{"product": product, "quantity": 1, "unit_price": 20000}],
        fulfilment={"type": "pickup", "store": store} if pickup else None,
    )  # fmt: skip
    return order


def ship_from_store(shop, ref):
    """The warehouse has none, so the order ships from the store."""
    return ec_order(shop, ref)


def page(client, **params):
    return client.get(reverse("inventory:fulfilment"), params)


def test_the_queue_lists_each_kind_of_work_in_its_section(client, clerk, shop, django_assert_max_num_queries):
    store, _, product = shop
    to_ship = ship_from_store(shop, "EC-1")
    assert to_ship.fulfilled_from == store
    to_prepare = ec_order(shop, "EC-2", pickup=True)
    ready = mark_order_ready(order=ec_order(shop, "EC-3", pickup=True))
    # Today's last slot while it is still ahead (a slot that has begun cannot be booked), else tomorrow's.
    today = timezone.localtime().time() < dt.time(19, 0)
    try_on = create_reservation(customer=CustomerFactory(), store=store, product=product, quantity=1, kind="try_on",
                                slot_start=next_slot(days=0 if today else 1, at="19:30"))  # fmt: skip
    with django_assert_max_num_queries(15):
        response = page(client)
    body = response.content.decode()
    assert response.status_code == 200
    sections = {name: body.split(f'id="{name}"')[1].split("</section>")[0]
                for name in ("to-ship", "to-prepare", "ready", "try-ons")}  # fmt: skip
    assert to_ship.public_id in sections["to-ship"]
    assert to_prepare.public_id in sections["to-prepare"] and to_prepare.public_id not in sections["to-ship"]
    assert ready.public_id in sections["ready"]
    assert ready.pickup_code not in body  # the code is the customer's proof: not shown to whoever looks
    if timezone.localtime(try_on.slot_start).date() == timezone.localdate():
        assert "19:30" in sections["try-ons"]
    assert "ウールコート" in body


def test_the_queue_in_japanese_and_english(client, clerk, shop):
    ec_order(shop, "EC-2", pickup=True)
    clerk.language = "ja"
    clerk.save(update_fields=["language"])
    assert "受け取り準備" in page(client).content.decode()
    clerk.language = "en"
    clerk.save(update_fields=["language"])
    assert "Pickups to prepare" in page(client).content.decode()


def test_ship_ready_collect_and_cancel_from_the_queue(client, clerk, shop, django_capture_on_commit_callbacks):
    store, _, product = shop
    to_ship = ship_from_store(shop, "EC-1")
    response = client.post(reverse("inventory:order_ship", args=[to_ship.public_id]),
                           {"carrier": "ヤマト運輸", "tracking_number": "1234"})  # fmt: skip
    assert response.status_code == 302
    to_ship.refresh_from_db()
    assert (to_ship.status, to_ship.carrier, to_ship.tracking_number) == ("shipped", "ヤマト運輸", "1234")

    pickup = ec_order(shop, "EC-2", pickup=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("inventory:order_ready", args=[pickup.public_id]))
    pickup.refresh_from_db()
    assert pickup.status == "ready_for_pickup" and len(mail.outbox) == 1
    wrong = client.post(reverse("inventory:order_collect", args=[pickup.public_id]), {"pickup_code": "WRONGCOD"},
                        follow=True)  # fmt: skip
    assert "コード" in wrong.content.decode() or "code" in wrong.content.decode()
    pickup.refresh_from_db()
    assert pickup.status == "ready_for_pickup"
    client.post(reverse("inventory:order_collect", args=[pickup.public_id]), {"pickup_code": pickup.pickup_code})
    pickup.refresh_from_db()
    assert pickup.status == "collected"

    other = ec_order(shop, "EC-3", pickup=True)
    client.post(reverse("inventory:order_cancel", args=[other.public_id]), {"reason": ""})
    other.refresh_from_db()
    assert other.status == "cancelled"
    level = StockLevel.objects.get(store=store, product=product)
    assert (level.on_hand, level.reserved) == (3, 0)  # one shipped, one collected, one released
    assert stock_mismatches() == []


def test_a_refused_action_says_why_and_changes_nothing(client, clerk, shop):
    order = ship_from_store(shop, "EC-1")
    ship_order(order=order, carrier="Y", tracking_number="1")
    response = client.post(reverse("inventory:order_cancel", args=[order.public_id]), follow=True)
    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == "shipped"
    missing = client.post(reverse("inventory:order_ship", args=[order.public_id]), {"carrier": "Y"}, follow=True)
    assert missing.status_code == 200
    assert client.post(reverse("inventory:order_ship", args=["ord_nope"]), {}).status_code == 404


def test_what_customers_wrote_is_escaped_in_the_queue(client, clerk, shop):
    customer = CustomerFactory(family_name="<script>alert(1)</script>")
    ec_order(shop, "EC-1", pickup=True, customer=customer)
    body = page(client).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_the_queue_needs_the_reservation_permissions(client, shop):
    login_as(client, UserFactory())
    assert page(client).status_code == 403
    order = ec_order(shop, "EC-1", pickup=True)
    assert client.post(reverse("inventory:order_ready", args=[order.public_id])).status_code == 403
    assert Order.objects.get(pk=order.pk).status == "placed"


def test_the_customer_page_shows_where_each_order_is(client, shop):
    agent = UserFactory(role="agent")
    login_as(client, agent)
    customer = CustomerFactory()
    shipped = ship_order(
        order=ec_order(shop, "EC-1", customer=customer), carrier="佐川急便", tracking_number="9999-0000"
    )
    ec_order(shop, "EC-2", pickup=True, customer=customer)
    body = client.get(reverse("crm:customer_detail", args=[customer.public_id])).content.decode()
    assert shipped.public_id in body
    assert "9999-0000" in body and "佐川急便" in body
    assert "渋谷店" in body
