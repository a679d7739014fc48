"""Inventory's part of the demo (crm.demo): an opening stock at every location through
receive_stock_lines, then holds, click-and-collect pickups and try-ons through create_reservation,
some handed over (fulfil_reservation) or cancelled (cancel_reservation), as a store's week has them.
Opening quantities come from the seed, product and location alone, and each receipt line is keyed,
so a second run receives nothing; reservations are made once (none exist before the demo makes them)."""

import random
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from crm.models import Customer, Product, Store

from .models import Reservation, StockLevel
from .services.reservations import cancel_reservation, create_reservation, fulfil_reservation
from .services.stock import receive_stock_lines

OPENING_REFERENCE = "demo-opening-stock"


def receive_opening_stock(*, seed: int = 1, progress=None) -> int:
    """An opening balance of every active product at every active location that does not stock it."""
    products = list(Product.objects.filter(active=True).order_by("pk"))
    received = 0
    for store in Store.objects.filter(active=True).order_by("pk"):
        stocked = set(StockLevel.objects.filter(store=store).values_list("product_id", flat=True))
        warehouse = store.kind == Store.Kind.WAREHOUSE
        quantities = {}
        for product in products:
            if product.pk in stocked:
                continue
            rng = random.Random(f"{seed}:{store.code}:{product.sku}")  # nosec B311  same quantity every run
            quantity = rng.randint(50, 200) if warehouse else rng.randint(0, 12)
            if quantity:
                quantities[product] = quantity
        if quantities:
            received += receive_stock_lines(store=store, quantities=quantities, reference=OPENING_REFERENCE)
        if progress:
            progress(1)
    return received


def demo_stock(*, rng, seeded, **_) -> str:
    received = receive_opening_stock()
    return f"opening stock: {received:,} lines" if received else ""


def demo_reservations(*, rng, seeded, count: int = 36, **_) -> str:
    if Reservation.objects.exists():
        return ""
    stores = list(Store.objects.filter(active=True, kind=Store.Kind.STORE).order_by("code"))[:4]
    customers = list(
        Customer.objects.filter(merged_into__isnull=True, orders__isnull=False).distinct().order_by("pk")[:200]
    )
    if not stores or not customers:
        return ""
    now = timezone.now()
    kinds = [Reservation.Kind.HOLD, Reservation.Kind.PICKUP, Reservation.Kind.TRY_ON]
    made = []
    for n in range(count):
        store = stores[n % len(stores)]
        offset = rng.randint(0, 40)
        levels = StockLevel.objects.filter(store=store, product__active=True, on_hand__gt=F("reserved"))
        level = next(iter(levels.order_by("product__sku").select_related("product")[offset : offset + 1]), None)
        if level is None:
            continue
        kind = kinds[n % 3]
        slot = timezone.localtime(now + timedelta(days=1 + n % 5)).replace(
            hour=11 + n % 7, minute=0, second=0, microsecond=0
        )
        made.append(
            create_reservation(
                customer=rng.choice(customers), store=store, product=level.product, quantity=1, kind=kind,
                slot_start=slot if kind == Reservation.Kind.TRY_ON else None,
            )
        )  # fmt: skip
    handed = cancelled = 0
    for n, reservation in enumerate(made):
        if n % 4 == 1:
            fulfil_reservation(reservation=reservation)
            handed += 1
        elif n % 9 == 4:
            cancel_reservation(reservation=reservation)
            cancelled += 1
    return f"{len(made)} holds, pickups and try-ons ({handed} handed over, {cancelled} cancelled)"


def register() -> None:
    from crm.registry import DemoStep, register_demo_step

    register_demo_step(DemoStep("inventory.stock", demo_stock, position=30))
    register_demo_step(DemoStep("inventory.reservations", demo_reservations, position=50))
