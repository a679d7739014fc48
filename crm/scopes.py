"""API scopes (shared/API.md) and the staff permission that grants each one to a logged-in user.

Permissions are named as strings so that crm never imports the apps that own them; a permission
whose app is not installed yet simply is not held by anyone.
"""

SCOPE_PERMISSIONS: dict[str, str] = {
    "customers:read": "crm.view_customer",
    "customers:write": "crm.change_customer",
    "catalog:read": "crm.view_product",
    "catalog:write": "crm.change_product",
    "orders:write": "crm.add_order",
    "loyalty:read": "loyalty.view_pointaccount",
    "loyalty:write": "loyalty.add_pointtransaction",
    "inventory:read": "inventory.view_stocklevel",
    "inventory:write": "inventory.add_reservation",
    "hub:write": "channels_hub.add_message",
    "campaigns:read": "campaigns.view_segment",
    "campaigns:write": "campaigns.add_campaign",
    "insights:read": "insights.view_kpis",
    "customers:export": "crm.export_customer",  # list customers without a search filter
}
SCOPES = tuple(SCOPE_PERMISSIONS)
