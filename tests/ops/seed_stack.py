"""Seeds a stack's database for the system tests: a store and the EC warehouse with stock, customers
who opted in to mail, an API key, and a draft campaign to all of them. Prints one JSON line."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django.setup()

from campaigns.models import Campaign, Segment  # noqa: E402
from crm.services import create_api_key  # noqa: E402
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock  # noqa: E402


def main(options: dict) -> dict:
    if options.get("orders_only"):
        return {"orders": record_orders(options["orders_only"], options.get("prefix", "X"))}
    store, warehouse = StoreFactory(code="SHIBUYA"), WarehouseFactory()
    products = [ProductFactory(sku=f"SKU-{n}", price=3000) for n in range(options.get("products", 3))]
    for product in products:
        stock(product, warehouse, quantity=1_000_000)
        stock(product, store, quantity=1_000_000)
    customers = [CustomerFactory(email=f"member{n}@example.jp", phone=f"+81901{n:07d}")
                 for n in range(options.get("customers", 10))]  # fmt: skip
    segment = Segment.objects.create(name="全員", rules={"field": "prefecture", "op": "eq", "value": "東京都"})
    campaign = Campaign.objects.create(
        name="冬のセール", segment=segment, subject="{{ customer.family_name }}様 冬のセール",
        from_email="Shop <news@shop.example>", body_text="セールのご案内 {{ unsubscribe_url }}",
        throttle=options.get("throttle", 0),
    )  # fmt: skip
    _, key = create_api_key(
        name="stack test", scopes=["orders:write", "customers:read", "campaigns:read", "campaigns:write"]
    )
    if options.get("orders"):
        record_orders(options["orders"], options.get("prefix", "A"))
    return {
        "api_key": key, "store": store.code, "skus": [p.sku for p in products],
        "customers": [c.public_id for c in customers], "emails": [c.email for c in customers],
        "campaign": campaign.public_id,
    }  # fmt: skip


def record_orders(count: int, prefix: str) -> list[str]:
    """Store sales through the order service, so that points and stock ledgers move with them."""
    from django.utils import timezone

    from crm.models import Customer, Product, Store
    from crm.services.orders import record_order

    store, products = Store.objects.get(code="SHIBUYA"), list(Product.objects.order_by("sku"))
    customers = list(Customer.objects.order_by("pk"))
    ids = []
    for n in range(count):
        order, _ = record_order(
            source="seed", external_ref=f"{prefix}-{n}", channel="store", store=store, ordered_at=timezone.now(),
            customer=customers[n % len(customers)],
            lines=[{"product": products[n % len(products)], "quantity": 1 + n % 3, "unit_price": 3000}],
        )  # fmt: skip
        ids.append(order.public_id)
    return ids


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})))
