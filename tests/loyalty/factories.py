import datetime as dt

from django.utils import timezone

from crm.services import record_order
from loyalty.services import adjust_points
from tests.crm.factories import ProductFactory, StoreFactory


def award(customer, points, reason="テスト付与", **kwargs):
    """Give a customer points the way staff do (a positive adjustment with a reason)."""
    return adjust_points(customer=customer, points=points, reason=reason, **kwargs)[0]


def sell(customer, *, price=10000, quantity=1, redeem=0, ref="R-1", channel="store", store=None, product=None,
         ordered_at=None):  # fmt: skip
    order, _ = record_order(
        source="pos", external_ref=ref, channel=channel, store=store or StoreFactory(code="SHIBUYA"),
        ordered_at=ordered_at or timezone.now() - dt.timedelta(hours=1), customer=customer,
        lines=[{"product": product or ProductFactory(), "quantity": quantity, "unit_price": price}],
        redeem_points=redeem,
    )  # fmt: skip
    return order
