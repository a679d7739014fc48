"""Fill the purchase summary from the orders recorded before it existed, with the same set-based
rebuild as `manage.py rebuild_purchase_summary`."""

from django.db import migrations


def fill(apps, schema_editor):
    from campaigns.services.purchases import rebuild_purchase_summary

    rebuild_purchase_summary()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_purchase_summary")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
