from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Customers and orders")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, panels  # noqa: F401  system checks; crm's own panels and timeline entries
        from .api import auth, schema  # noqa: F401  the API key cache (dropped on every key change); Api-Key scheme
        from .ops import metrics  # noqa: F401  counts orders, mails and Celery task outcomes
