"""Staff roles. Each is a Group created by a data migration; each app grants its own permissions to
these groups in a data migration of its own, so crm does not need to know the other apps."""

STORE_STAFF, AGENT, MARKETER, ADMIN = "store_staff", "agent", "marketer", "admin"
ROLES = (STORE_STAFF, AGENT, MARKETER, ADMIN)

_VIEW = ["view_customer", "view_channelidentity", "view_order", "view_product", "view_store", "view_customermerge"]
CRM_ROLE_PERMISSIONS: dict[str, list[str]] = {
    STORE_STAFF: [*_VIEW, "add_customer", "change_customer", "add_channelidentity", "add_order", "merge_customer"],
    AGENT: [*_VIEW, "change_customer", "add_channelidentity", "merge_customer"],
    MARKETER: [*_VIEW, "export_customer"],
    ADMIN: None,  # every permission of the app
}
