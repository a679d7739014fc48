"""Grant inventory's permissions to the staff roles (inventory/roles.py), as crm's 0003_roles does."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from inventory.roles import INVENTORY_ROLE_PERMISSIONS


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="inventory")
    for role, codenames in INVENTORY_ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(perms if codenames is None else perms.filter(codename__in=codenames)))


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("crm", "0003_roles"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
