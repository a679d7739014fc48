"""Out of the box: 1 point per 100 yen on every sales channel, the Regular/Silver/Gold tiers, and the
loyalty permissions of each staff role (loyalty/roles.py)."""

from decimal import Decimal

from django.db import migrations

from crm.roles import grant_role_permissions
from loyalty.roles import LOYALTY_ROLE_PERMISSIONS

CHANNELS = ["store", "ec", "app", "phone", "catalog"]
TIERS = [
    ("regular", "レギュラー", 0, Decimal("1.00")),
    ("silver", "シルバー", 50_000, Decimal("1.20")),
    ("gold", "ゴールド", 150_000, Decimal("1.50")),
]


def forwards(apps, schema_editor):
    EarnRule = apps.get_model("loyalty", "EarnRule")
    Tier = apps.get_model("loyalty", "Tier")
    for channel in CHANNELS:
        EarnRule.objects.get_or_create(channel=channel, defaults={"yen_per_unit": 100, "points_per_unit": 1})
    for code, name, min_spend, multiplier in TIERS:
        Tier.objects.get_or_create(code=code, defaults={"name": name, "min_spend": min_spend, "multiplier": multiplier})

    grant_role_permissions(apps, "loyalty", LOYALTY_ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("crm", "0003_roles"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
