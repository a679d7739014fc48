from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import journey_personal_data, line_personal_data, panels, receivers, segment_fields  # noqa: F401  register with crm and anymail

        line_personal_data.register()
        journey_personal_data.register()

        from crm.registry import register_coupon_provider

        from .services.coupons import hold_coupon_for_order

        register_coupon_provider(hold_coupon_for_order)
