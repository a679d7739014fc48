from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty points")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.registry import (
            CancelStep,
            NavItem,
            OrderStep,
            ReturnStep,
            register_cancel_step,
            register_customer_summary,
            register_nav_item,
            register_order_step,
            register_return_step,
            register_timeline_source,
        )
        from crm.signals import customers_merged

        from . import demo, panels, personal_data, receivers, selectors, services
        from .services import orders

        # Steps of crm's order pipeline (crm/registry.py): points before stock, in the global lock order.
        register_order_step(
            OrderStep(orders.STEP, position=20, locks="point account", prepare=orders.prepare_order_points,
                      write=orders.write_order_points)
        )  # fmt: skip
        register_return_step(
            ReturnStep(orders.STEP, position=20, locks="point account", write=orders.reverse_return_points)
        )
        register_cancel_step(
            CancelStep(orders.STEP, position=20, locks="point account", write=services.reverse_cancelled_order_points)
        )
        customers_merged.connect(receivers.on_customers_merged, dispatch_uid="loyalty.customers_merged")
        register_customer_summary("loyalty", selectors.customer_point_summaries)
        register_timeline_source("loyalty.points", selectors.point_timeline)
        panels.register()
        demo.register()
        personal_data.register()
        register_nav_item(
            NavItem("loyalty-finance", _("Points finance"), "loyalty:finance", permission="loyalty.view_finance")
        )
        register_nav_item(
            NavItem(
                "loyalty-approvals",
                _("Point approvals"),
                "loyalty:approvals",
                permission="loyalty.approve_pointadjustment",
            )
        )
