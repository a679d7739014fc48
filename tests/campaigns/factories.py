import datetime as dt

import factory
from django.utils import timezone

from campaigns.models import Campaign, Segment
from campaigns.services import record_purchases
from crm.models import Order, OrderLine
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"セグメント{n}")
    rules = factory.LazyFunction(lambda: {"all": [{"field": "email_opt_in", "op": "eq", "value": True}]})


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"冬のセール{n}")
    segment = factory.SubFactory(SegmentFactory)
    subject = "{{ customer.family_name }}様 冬のセール"
    from_email = "Tsunagu Shop <news@shop.example>"
    body_text = (
        "{{ customer.family_name }} {{ customer.given_name }}様\nセール: https://shop.example/sale\n"
        "停止: {{ unsubscribe_url }}"
    )
    body_html = (
        '<p>{{ customer.family_name }}様</p><a href="https://shop.example/sale?utm=mail&amp;x=1">セール</a>'
        '<a href="{{ unsubscribe_url }}">配信停止</a>'
    )
    throttle = 0


def make_order(customer, *, channel="store", total=5000, days_ago=1, product=None, store=None, at=None):
    store = store or StoreFactory()
    product = product or ProductFactory()
    ordered_at = at or timezone.now() - dt.timedelta(days=days_ago)
    order = Order.objects.create(
        source="test", external_ref=f"ref-{Order.objects.count() + 1}-{customer.pk}", channel=channel, store=store,
        customer=customer, ordered_at=ordered_at, subtotal=total, total=total,
    )  # fmt: skip
    OrderLine.objects.create(
        order=order, line_number=1, product=product, sku=product.sku, quantity=1, unit_price=total, amount=total
    )
    record_purchases(order=order)  # what campaigns' order_recorded receiver does for a recorded order
    return order


__all__ = ["CampaignFactory", "CustomerFactory", "ProductFactory", "SegmentFactory", "StoreFactory", "make_order"]
