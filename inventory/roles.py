"""Inventory's permissions per staff role (granted by migration 0002_roles)."""

INVENTORY_ROLE_PERMISSIONS: dict[str, list[str] | None] = {
    "store_staff": [
        "view_stocklevel", "view_stockmovement", "view_reservation", "add_reservation", "change_reservation",
        "view_discrepancy", "change_discrepancy", "view_transfer", "add_transfer", "change_transfer",
    ],
    # Agents book holds and try-ons for customers on the phone.
    "agent": ["view_stocklevel", "view_reservation", "add_reservation", "change_reservation"],
    "marketer": ["view_stocklevel", "view_reservation"],
    "admin": None,  # every permission of the app
}  # fmt: skip
