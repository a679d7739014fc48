from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Customers and orders")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import auth, checks, demo, panels  # noqa: F401  2FA receivers; system checks; crm's panels and timeline
        from .api import auth as api_auth  # noqa: F401  the API key cache (dropped on every key change)
        from .api import schema  # noqa: F401  registers the Api-Key scheme with drf-spectacular
        from .ops import metrics  # noqa: F401  counts orders, mails and Celery task outcomes
        from .privacy import sources as privacy_sources

        demo.register()
        privacy_sources.register()  # crm's part of a person's export and erasure
