from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty points")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.registry import NavItem, register_customer_summary, register_nav_item, register_timeline_source
        from crm.signals import customers_merged, order_cancelled, order_recorded, order_returned

        from . import panels, receivers, selectors

        order_recorded.connect(receivers.on_order_recorded, dispatch_uid="loyalty.order_recorded")
        order_returned.connect(receivers.on_order_returned, dispatch_uid="loyalty.order_returned")
        customers_merged.connect(receivers.on_customers_merged, dispatch_uid="loyalty.customers_merged")
        order_cancelled.connect(receivers.on_order_cancelled, dispatch_uid="loyalty.order_cancelled")
        register_customer_summary("loyalty", selectors.customer_point_summaries)
        register_timeline_source("loyalty.points", selectors.point_timeline)
        panels.register()
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
