from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("Inventory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm import signals
        from crm.registry import (
            CancelStep,
            NavItem,
            OrderStep,
            Panel,
            ReturnStep,
            register_cancel_step,
            register_nav_item,
            register_order_step,
            register_panel,
            register_return_step,
            register_timeline_source,
        )

        from . import demo, personal_data, receivers, selectors, services
        from .services import orders
        from .views import reservations_panel_context

        # Steps of crm's order pipeline (crm/registry.py): stock after points, in the global lock order.
        register_order_step(
            OrderStep(orders.STEP, position=30, locks="stock levels", prepare=orders.prepare_order_stock,
                      write=orders.write_order_stock)
        )  # fmt: skip
        register_return_step(ReturnStep(orders.STEP, position=30, locks="stock levels", write=orders.restock_return))
        register_cancel_step(
            CancelStep(orders.STEP, position=30, locks="stock levels", write=services.release_cancelled_order)
        )
        # dispatch_uid: connected once even if ready() runs twice (tests, autoreload).
        signals.customers_merged.connect(receivers.on_customers_merged, dispatch_uid="inventory.customers_merged")
        signals.order_collected.connect(receivers.on_order_collected, dispatch_uid="inventory.order_collected")
        register_panel(
            Panel(
                "reservations", _("Reservations"), "inventory/panels/reservations.html", reservations_panel_context,
                order=40, permission="inventory.view_reservation",
            )
        )  # fmt: skip
        register_timeline_source("inventory.reservations", selectors.reservation_timeline)
        demo.register()
        personal_data.register()
        register_nav_item(
            NavItem("stock", _("Stock"), "inventory:stock", permission="inventory.view_stocklevel", order=30)
        )
        register_nav_item(
            NavItem("reservations", _("Reservations"), "inventory:reservations",
                    permission="inventory.view_reservation", order=31)
        )  # fmt: skip
        register_nav_item(
            NavItem("fulfilment", pgettext_lazy("nav", "Fulfilment"), "inventory:fulfilment",
                    permission="inventory.view_reservation", order=32)
        )  # fmt: skip
