"""Create the staff roles as Groups and grant them crm's permissions (crm/roles.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from crm.roles import CRM_ROLE_PERMISSIONS


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    crm_perms = Permission.objects.filter(content_type__app_label="crm")
    for role, codenames in CRM_ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = crm_perms if codenames is None else crm_perms.filter(codename__in=codenames)
        group.permissions.add(*perms)
    admin = Group.objects.get(name="admin")
    admin.permissions.add(*Permission.objects.filter(content_type__app_label__in=["auth", "mfa", "account"]))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_postgres_search"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
