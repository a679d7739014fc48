from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsHubConfig(AppConfig):
    name = "channels_hub"
    verbose_name = _("Contact hub")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.signals import customer_identified, customers_merged

        from . import panels, receivers
        from .line import personal_data as line_personal_data
        from .line import tasks  # noqa: F401  registers the LINE tasks with Celery
        from .services import sla  # noqa: F401  routing rules and SLA policies cached per process

        panels.register()
        line_personal_data.register()
        customers_merged.connect(receivers.on_customers_merged, dispatch_uid="channels_hub.customers_merged")
        customer_identified.connect(receivers.on_customer_identified, dispatch_uid="channels_hub.customer_identified")
