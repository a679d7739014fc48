"""Grant the personal-data permissions: admins see the access log, erase and export; agents (who answer
the person) and admins see full phone and email in search results, store staff see them masked."""

from django.db import migrations

from crm.roles import ADMIN, AGENT, grant_role_permissions

PRIVACY_PERMISSIONS = {
    AGENT: ["view_customer_contact"],
    ADMIN: [
        "view_customer_contact", "erase_customer", "export_customer", "view_accesslogentry",
        "view_customererasure",
    ],
}  # fmt: skip


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "crm", PRIVACY_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_access_log_and_erasure")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
