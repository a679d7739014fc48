from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import (
            demo,
            panels,  # noqa: F401  the 360 panel, the menu item and the campaign mail block
            personal_data,
        )

        demo.register()
        personal_data.register()
