"""Admins manage LINE accounts and see LINE users, events and links (migration 0002 granted the
permissions that existed then)."""

from django.db import migrations

from crm.roles import grant_role_permissions


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "channels_hub", {"admin": None})


class Migration(migrations.Migration):
    dependencies = [("channels_hub", "0004_line")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
