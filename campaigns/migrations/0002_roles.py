"""Grant campaigns' permissions to the staff roles (Groups made by crm/migrations/0003_roles.py):
marketers build segments and send campaigns; store staff and agents see the campaign panel on the
customer page; admins get everything."""

from django.db import migrations

from crm.roles import grant_role_permissions

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
    grant_role_permissions(apps, "campaigns", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
