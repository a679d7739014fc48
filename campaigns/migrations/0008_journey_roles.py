"""Marketers build journeys and offers and issue coupon codes; store staff and agents see offers and
codes (a customer asks about a coupon at the till or on the phone); admins get everything."""

from django.db import migrations

from crm.roles import grant_role_permissions

_SEE_COUPONS = ["view_offer", "view_coupon", "view_couponredemption"]
ROLE_PERMISSIONS = {
    "store_staff": _SEE_COUPONS,
    "agent": _SEE_COUPONS,
    "marketer": [
        *_SEE_COUPONS,
        "view_journey",
        "add_journey",
        "change_journey",
        "view_journeyenrollment",
        "view_journeymessage",
        "add_offer",
        "add_coupon",
    ],
    "admin": None,
}


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "campaigns", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_coupons_and_journeys")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
