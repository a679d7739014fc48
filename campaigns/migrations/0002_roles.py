"""Grant campaigns' permissions to the staff roles (Groups made by crm/migrations/0003_roles.py):
marketers build segments and send campaigns; store staff and agents see the campaign panel on the
customer page; admins get everything."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

_READ = ["view_campaign", "view_campaignrecipient", "view_mailevent"]
ROLE_PERMISSIONS = {
    "store_staff": _READ,
    "agent": _READ,
    "marketer": [
        *_READ,
        "view_segment",
        "add_segment",
        "change_segment",
        "add_campaign",
        "change_campaign",
        "send_campaign",
        "view_suppression",
    ],
    "admin": None,
}


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("campaigns")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="campaigns")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(perms if codenames is None else perms.filter(codename__in=codenames)))


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
