"""Staff roles. Each is a Group created by a data migration; each app grants its own permissions to
these groups in a data migration of its own, so crm does not need to know the other apps."""

STORE_STAFF, AGENT, MARKETER, ADMIN = "store_staff", "agent", "marketer", "admin"
ROLES = (STORE_STAFF, AGENT, MARKETER, ADMIN)

_VIEW = ["view_customer", "view_channelidentity", "view_order", "view_product", "view_store", "view_customermerge"]
CRM_ROLE_PERMISSIONS: dict[str, list[str]] = {
    STORE_STAFF: [*_VIEW, "add_customer", "change_customer", "add_channelidentity", "add_order", "merge_customer"],
    AGENT: [*_VIEW, "change_customer", "add_channelidentity", "merge_customer", "view_customer_contact"],
    MARKETER: [*_VIEW, "export_customer"],
    ADMIN: None,  # every permission of the app
}


def grant_role_permissions(apps, app_label: str, role_permissions: dict[str, list[str] | None]) -> None:
    """For a data migration: give each role (Group) the listed permissions of `app_label`, or all of
    them for None. Permissions are created first, since Django only makes them after migrating."""
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label=app_label)
    for role, codenames in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(perms if codenames is None else perms.filter(codename__in=codenames)))
