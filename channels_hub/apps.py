from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsHubConfig(AppConfig):
    name = "channels_hub"
    verbose_name = _("Contact hub")
    default_auto_field = "django.db.models.BigAutoField"
