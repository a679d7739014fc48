"""inventory's part of a person's export and erasure (APPI): their holds, try-ons and click-and-collect
reservations. Erasure keeps every reservation and every stock movement (stock must still add up);
the rows point at a customer whose personal data crm's part anonymises. Stock itself is nobody's."""

from crm import registry

from .models import Reservation


def export_inventory(person) -> dict:
    rows = (
        Reservation.objects.filter(customer_id__in=person.customer_ids)
        .select_related("store", "product")
        .order_by("created_at", "pk")
    )
    return {
        "reservations": [
            {"id": r.public_id, "kind": r.kind, "status": r.status, "store": r.store.code, "sku": r.product.sku,
             "quantity": r.quantity, "slot_start": r.slot_start, "expires_at": r.expires_at,
             "created_at": r.created_at, "closed_at": r.closed_at}
            for r in rows
        ]
    }  # fmt: skip


def erase_inventory(person) -> dict:
    return {"reservations_kept": Reservation.objects.filter(customer_id__in=person.customer_ids).count()}


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="inventory",
            export=export_inventory,
            erase=erase_inventory,
            anonymises={"inventory.Reservation": ("customer",)},
            position=30,
        )
    )
    for label, reason in {
        "inventory.StockLevel": "Stock per product and location.",
        "inventory.StockMovement": "The stock ledger (references orders and reservations by id only).",
        "inventory.Discrepancy": "Stock counts that did not match.",
        "inventory.Transfer": "Stock moved between locations.",
        "inventory.StockSyncBatch": "POS/WMS stock counts.",
        "inventory.OpeningHours": "A store's opening hours.",
        "inventory.TryOnSettings": "A store's try-on slot length and capacity.",
    }.items():
        registry.register_not_personal_data(label, reason=reason)
