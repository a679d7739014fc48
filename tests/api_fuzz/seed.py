"""Data for the schema fuzz run (.ci/run): a store and the EC warehouse, products with stock,
customers with points and identities, a segment, a draft campaign, an order, a reservation, and one
API key holding every scope. Writes what the hooks need (ids, codes, the raw key) as JSON.

    python -m tests.api_fuzz.seed OUT.json   (DJANGO_SETTINGS_MODULE=crm.settings, migrated database)
"""

import json
import os
import sys
from datetime import timedelta

import django


def seed() -> dict:
    from django.utils import timezone

    from campaigns.services import create_campaign, create_segment
    from crm.models import Store
    from crm.scopes import SCOPES
    from crm.services import create_api_key, create_customer, record_order, upsert_product
    from inventory.services.reservations import create_reservation
    from inventory.services.stock import receive_stock
    from loyalty.services import adjust_points

    store = Store.objects.create(code="FZ-SHIBUYA", name="Fuzz Shibuya", kind="store", prefecture="東京都")
    warehouse = Store.objects.create(code="EC-WH", name="EC warehouse", kind="warehouse", prefecture="千葉県")
    products = [upsert_product(sku=f"FZ-{i}", name=f"Fuzz coat {i}", category="outerwear", price=1000 * i)[0]
                for i in range(1, 4)]  # fmt: skip
    for product in products:
        for location in (store, warehouse):
            receive_stock(store=location, product=product, quantity=10_000, reference="fuzz opening stock")
    customers = [
        create_customer(
            family_name=f"試験{i}", given_name="太郎", email=f"fuzz{i}@example.jp", phone=f"090-1234-56{i:02d}",
            prefecture="東京都", email_opt_in=True, identities=[{"channel": "ec", "external_id": f"fz-ec-{i}"}],
        )
        for i in range(3)
    ]  # fmt: skip
    for customer in customers:
        adjust_points(customer=customer, points=5_000, reason="fuzz opening balance")
    order, _ = record_order(
        source="fuzz", external_ref="FZ-ORDER-1", channel="store", store=store, ordered_at=timezone.now(),
        lines=[{"product": products[0], "quantity": 50, "unit_price": 1000}], customer=customers[0],
    )  # fmt: skip
    reservation = create_reservation(product=products[1], store=store, quantity=1, kind="hold", customer=customers[1])
    segment = create_segment(name="Fuzz Tokyo", rules={"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]})
    campaign = create_campaign(
        name="Fuzz campaign", segment=segment, subject="{{ customer.family_name }}様", from_email="Shop <n@shop.jp>",
        body_text="本文 {{ unsubscribe_url }}", body_html="",
    )  # fmt: skip
    _api_key, raw_key = create_api_key(name="fuzz", scopes=list(SCOPES))
    return {
        "api_key": raw_key,
        "customer_id": [c.public_id for c in customers],
        "member_number": [c.member_number for c in customers],
        "order_id": [order.public_id],
        "reservation_id": [reservation.public_id],
        "segment_id": [segment.public_id],
        "campaign_id": [campaign.public_id],
        "sku": [p.sku for p in products],
        "store": [store.code],
        "since": (timezone.now() - timedelta(days=1)).isoformat(),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    django.setup()
    data = seed()
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(data, out)
