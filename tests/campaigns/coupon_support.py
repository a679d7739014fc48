import datetime as dt

from django.utils import timezone

from campaigns.services.coupons import create_offer, issue_coupon


def make_offer(**fields):
    now = timezone.now()
    values = {
        "name": "冬の500円オフ", "kind": "amount", "value": 500, "min_spend": 3000,
        "valid_from": now - dt.timedelta(days=400), "valid_until": now + dt.timedelta(days=30),
    }  # fmt: skip
    values.update(fields)
    return create_offer(**values)


def make_coupon(offer=None, **fields):
    return issue_coupon(offer=offer or make_offer(), **fields)
