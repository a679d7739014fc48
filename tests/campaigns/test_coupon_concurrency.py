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
