"""Grant inventory's permissions to the staff roles (inventory/roles.py), as crm's 0003_roles does."""

from django.db import migrations

from crm.roles import grant_role_permissions
from inventory.roles import INVENTORY_ROLE_PERMISSIONS


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "inventory", INVENTORY_ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("crm", "0003_roles"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
