from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import demo, line_personal_data, panels, personal_data, receivers, segment_fields  # noqa: F401  register with crm and anymail

        personal_data.register()
        line_personal_data.register()
        demo.register()
