"""Grant the contact hub's permissions to the staff roles (channels_hub/roles.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from channels_hub.roles import HUB_ROLE_PERMISSIONS


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("channels_hub")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="channels_hub")
    for role, codenames in HUB_ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(perms if codenames is None else perms.filter(codename__in=codenames)))


class Migration(migrations.Migration):
    dependencies = [
        ("channels_hub", "0001_initial"),
        ("crm", "0003_roles"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
