"""The same coupon scanned at the till and typed at the EC checkout at the same instant: used once.
Real threads with their own connections on PostgreSQL."""

import pytest

from campaigns.models import Coupon, CouponRedemption
from campaigns.services.coupons import CouponRefused, redeem_coupon
from tests.concurrency import run_concurrently

from .coupon_support import make_coupon, make_offer
from .factories import CustomerFactory, ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _redeem(code, customer, product, channel, i):
    lines = [{"product": product, "quantity": 1, "unit_price": 5000}]
    return redeem_coupon(code=code, lines=lines, reference=f"{channel}-{i}", channel=channel, customer=customer)


def test_single_use_code_from_pos_and_ec_at_the_same_instant_is_redeemed_once():
    customer, product = CustomerFactory(), ProductFactory()
    coupon = make_coupon(customer=customer)
    results = run_concurrently(lambda i: _redeem(coupon.code, customer, product, "store" if i % 2 else "ec", i), 8)
    assert sum(isinstance(r, CouponRedemption) for r in results) == 1, results
    assert all(isinstance(r, CouponRedemption | CouponRefused) for r in results), results
    assert Coupon.objects.get(pk=coupon.pk).uses == 1
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 1


def test_multi_use_code_for_three_is_redeemed_exactly_three_times_by_ten_tills():
    product = ProductFactory()
    coupon = make_coupon(make_offer(), max_uses=3)
    results = run_concurrently(lambda i: _redeem(coupon.code, None, product, "store", i), 10)
    assert sum(isinstance(r, CouponRedemption) for r in results) == 3, results
    assert Coupon.objects.get(pk=coupon.pk).uses == 3


def _shop():
    """A coat in the EC warehouse, the Shibuya store, a customer and an orders:write key."""
    from crm.services import create_api_key
    from tests.crm.factories import StoreFactory, WarehouseFactory, stock

    stock(ProductFactory(sku="COAT-9", price=20000), WarehouseFactory())
    StoreFactory(code="SHIBUYA")
    return CustomerFactory(), create_api_key(name="pos-and-ec", scopes=["orders:write"])[1]


def _order_at_the_till_or_online(key, customer, code, i):
    """Request 0 is a sale at the Shibuya till, the others EC orders; each with its own reference."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = {
        "source": "pos" if i == 0 else "ec", "external_ref": f"R-{i}", "channel": "store" if i == 0 else "ec",
        "customer": customer.public_id, "ordered_at": "2026-11-20T14:05:00+09:00", "coupon_code": code,
        "lines": [{"sku": "COAT-9", "quantity": 1, "unit_price": 20000}],
    }  # fmt: skip
    if i == 0:
        body["store"] = "SHIBUYA"
    return client.post("/api/v1/orders/", body, format="json")


def test_the_same_code_on_a_store_sale_and_an_ec_order_at_the_same_instant_is_redeemed_once():
    from crm.models import Order

    customer, key = _shop()
    coupon = make_coupon(customer=customer)
    responses = run_concurrently(lambda i: _order_at_the_till_or_online(key, customer, coupon.code, i), 2)
    assert sorted(r.status_code for r in responses) == [201, 409], [r.content for r in responses]
    assert [r.json()["code"] for r in responses if r.status_code == 409] == ["coupon_used"]
    assert Order.objects.count() == 1 and Coupon.objects.get(pk=coupon.pk).uses == 1


def test_a_once_per_customer_offer_is_used_once_by_three_codes_at_the_same_instant():
    """Three different codes of an offer limited to one use per customer, at the till and online at once."""
    from crm.models import Order

    customer, key = _shop()
    offer = make_offer(per_customer_limit=1)
    codes = [make_coupon(offer).code for _ in range(3)]
    responses = run_concurrently(lambda i: _order_at_the_till_or_online(key, customer, codes[i], i), 3)
    assert sorted(r.status_code for r in responses) == [201, 409, 409], [r.content for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"coupon_used"}
    assert Order.objects.count() == 1
    assert CouponRedemption.objects.filter(offer=offer, customer=customer).count() == 1


def test_a_once_per_customer_offer_redeemed_directly_by_two_codes_at_once_is_used_once():
    customer, product = CustomerFactory(), ProductFactory()
    offer = make_offer(per_customer_limit=1)
    codes = [make_coupon(offer).code for _ in range(4)]
    results = run_concurrently(lambda i: _redeem(codes[i], customer, product, "store" if i % 2 else "ec", i), 4)
    assert sum(isinstance(r, CouponRedemption) for r in results) == 1, results
    assert all(isinstance(r, CouponRedemption | CouponRefused) for r in results), results
