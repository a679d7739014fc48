import datetime as dt

from django.utils import timezone

from crm.services import record_order
from inventory.services import receive_stock
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory

__all__ = ["CustomerFactory", "ProductFactory", "StoreFactory", "WarehouseFactory", "next_slot", "order", "stock"]


def stock(store, product, quantity):
    """Put `quantity` units of `product` at `store` through the ledger (a receipt)."""
    return receive_stock(store=store, product=product, quantity=quantity, reference="test")


def order(*, store, lines, channel="store", customer=None, ref=None):
    """Record an order through crm's service (the receivers move the stock)."""
    order, _ = record_order(
        source="test", external_ref=ref or f"R-{timezone.now().timestamp()}-{id(lines)}", channel=channel,
        store=store, ordered_at=dt.datetime.now(dt.UTC), customer=customer,
        lines=[{"product": p, "quantity": q, "unit_price": 1000} for p, q in lines],
    )  # fmt: skip
    return order


def next_slot(days=1, at="11:00"):
    """A try-on slot start inside the default opening hours (10:00–20:00, 30-minute slots), `days` ahead."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.fromisoformat(at)))
