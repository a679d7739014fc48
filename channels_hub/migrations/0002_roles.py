"""Grant the contact hub's permissions to the staff roles (channels_hub/roles.py)."""

from django.db import migrations

from channels_hub.roles import HUB_ROLE_PERMISSIONS
from crm.roles import grant_role_permissions


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "channels_hub", HUB_ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("channels_hub", "0001_initial"),
        ("crm", "0003_roles"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
