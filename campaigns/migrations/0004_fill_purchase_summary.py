"""Fill the purchase summary from the orders recorded before it existed. Self-contained: the SQL is
written here against the historical models' tables, so later changes to the live service code
(campaigns.services.purchases) cannot change what this migration does. The table is new and empty
at this point, so a plain INSERT … SELECT fills it."""

from django.db import migrations


def fill(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    summary = quote(apps.get_model("campaigns", "PurchaseSummary")._meta.db_table)
    orders = quote(apps.get_model("crm", "Order")._meta.db_table)
    lines = quote(apps.get_model("crm", "OrderLine")._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {summary} (customer_id, product_id, channel, last_purchased_at) "  # noqa: S608
            f"SELECT o.customer_id, l.product_id, o.channel, MAX(o.ordered_at) FROM {orders} o "
            f"JOIN {lines} l ON l.order_id = o.id WHERE o.customer_id IS NOT NULL "
            "GROUP BY o.customer_id, l.product_id, o.channel"
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_purchase_summary"), ("crm", "0001_initial")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
