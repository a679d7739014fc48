"""Grant insights' permissions to the staff roles (Groups made by crm/migrations/0003_roles.py).

The KPI dashboard and `insights:read` (view_kpis) go to marketers and admins: the figures are
company-wide sales per customer group, contact-centre outcomes and points liability movements, which
marketing and management steer by; counter staff and agents serve one customer at a time and need
none of them (an admin can grant the permission to a store manager's or supervisor's group). Every
role sees the "suggest to this customer" panel: it only needs the customer page and the catalogue."""

from django.db import migrations

from crm.roles import grant_role_permissions

ROLE_PERMISSIONS = {
    "store_staff": [],
    "agent": [],
    "marketer": ["view_kpis", "view_productaffinity", "view_recommendationbuild"],
    "admin": None,
}


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "insights", ROLE_PERMISSIONS)
    apps.get_model("insights", "FactsState").objects.get_or_create(key="facts")


class Migration(migrations.Migration):
    dependencies = [("insights", "0001_initial"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
