"""A coupon on an order: redeemed in the order's transaction, shown in the order's discount and total,
refused with a clear code, given back when the order is fully returned."""

import datetime as dt

import pytest

from campaigns.models import Coupon, CouponRedemption
from crm.models import Order
from loyalty.models import PointAccount
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

from .coupon_support import make_coupon, make_offer

pytestmark = pytest.mark.django_db
LONG_AGO, FAR = dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2090, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def shop():
    warehouse = WarehouseFactory()
    coat = ProductFactory(sku="COAT-1", price=20000, category="outerwear")
    stock(coat, warehouse)
    return {"store": StoreFactory(code="SHIBUYA"), "customer": CustomerFactory(), "coat": coat}


def body(shop, code, ref="R-1", channel="store", **extra):
    order = {
        "source": "pos", "external_ref": ref, "channel": channel, "customer": shop["customer"].public_id,
        "ordered_at": "2026-11-20T14:05:00+09:00", "coupon_code": code,
        "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}], **extra,
    }  # fmt: skip
    if channel == "store":
        order["store"] = "SHIBUYA"
    return order


def offer(**fields):
    return make_offer(valid_from=LONG_AGO, valid_until=FAR, **fields)


def test_an_order_with_a_coupon_shows_the_discount_and_earns_on_what_was_paid(api, shop):
    coupon = make_coupon(offer(kind="percent", value=10), customer=shop["customer"])
    response = api("orders:write").post("/api/v1/orders/", body(shop, coupon.code), format="json")
    assert response.status_code == 201, response.json()
    order = response.json()
    assert (order["subtotal"], order["discount"], order["total"]) == (20000, 2000, 18000)
    assert order["points_earned"] == 180
    redemption = CouponRedemption.objects.get()
    assert redemption.order.public_id == order["id"] and redemption.channel == "store"
    assert redemption.store.code == "SHIBUYA"


def test_the_same_order_sent_twice_redeems_the_coupon_once(api, shop):
    coupon = make_coupon(offer())
    client = api("orders:write")
    assert client.post("/api/v1/orders/", body(shop, coupon.code), format="json").status_code == 201
    assert client.post("/api/v1/orders/", body(shop, coupon.code), format="json").status_code == 200
    assert Coupon.objects.get().uses == 1


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda shop: make_coupon(offer(), max_uses=1, customer=CustomerFactory()), "coupon_not_applicable"),
        (lambda shop: make_coupon(make_offer(valid_from=LONG_AGO, valid_until=LONG_AGO + dt.timedelta(days=1))),
         "coupon_expired"),
        (lambda shop: make_coupon(offer(categories=["shoes"])), "coupon_not_applicable"),
        (lambda shop: make_coupon(offer(min_spend=50000)), "coupon_not_applicable"),
    ],
)  # fmt: skip
def test_a_refused_coupon_refuses_the_order_and_writes_nothing(api, shop, make, code):
    coupon = make(shop)
    response = api("orders:write").post("/api/v1/orders/", body(shop, coupon.code), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == code and "coupon_code" in response.json()["errors"]
    assert Order.objects.count() == 0 and CouponRedemption.objects.count() == 0
    assert not PointAccount.objects.filter(customer=shop["customer"], balance__gt=0).exists()


def test_a_used_coupon_is_refused_with_coupon_used(api, shop):
    coupon = make_coupon(offer())
    client = api("orders:write")
    client.post("/api/v1/orders/", body(shop, coupon.code), format="json")
    response = client.post("/api/v1/orders/", body(shop, coupon.code, ref="R-2", channel="ec"), format="json")
    assert response.status_code == 409 and response.json()["code"] == "coupon_used"
    assert Order.objects.count() == 1


def test_an_unknown_coupon_code_is_a_field_error(api, shop):
    response = api("orders:write").post("/api/v1/orders/", body(shop, "NOT-A-CODE"), format="json")
    assert response.status_code == 400 and "coupon_code" in response.json()["errors"]
    assert Order.objects.count() == 0


def test_a_fully_returned_order_gives_the_coupon_back_and_a_partial_return_does_not(api, shop):
    coupon = make_coupon(offer())
    client = api("orders:write")
    order = client.post("/api/v1/orders/", body(shop, coupon.code), format="json").json()
    response = client.post(f"/api/v1/orders/{order['id']}/returns/", {"lines": [{"sku": "COAT-1", "quantity": 1}]},
                           format="json")  # fmt: skip
    assert response.status_code == 201
    assert Coupon.objects.get().uses == 0
    assert CouponRedemption.objects.get().released_at is not None


def test_a_cancelled_ec_order_gives_the_coupon_back_in_the_same_transaction(api, shop):
    coupon = make_coupon(offer())
    client = api("orders:write")
    order = client.post("/api/v1/orders/", body(shop, coupon.code, ref="EC-1", channel="ec"), format="json").json()
    assert (order["status"], order["discount"]) == ("placed", 500)
    assert Coupon.objects.get().uses == 1

    response = client.post(f"/api/v1/orders/{order['id']}/cancel/", {"reason": "changed mind"}, format="json")

    assert response.status_code == 200, response.json()
    assert Coupon.objects.get().uses == 0
    assert CouponRedemption.objects.get().released_at is not None
    again = client.post("/api/v1/orders/", body(shop, coupon.code, ref="EC-2", channel="ec"), format="json")
    assert again.status_code == 201, again.json()
    assert again.json()["discount"] == 500
    # cancelling twice gives nothing back twice
    assert client.post(f"/api/v1/orders/{order['id']}/cancel/").status_code == 409
    assert Coupon.objects.get().uses == 1
