"""System checks of Tsunagu's own settings (run by `manage.py check`, `--deploy` in CI)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.caches, deploy=True)
def shared_cache_in_production(app_configs, **kwargs):
    """Per-process configuration caches (crm.caching), API throttles and login limits count in the
    default cache: with several web processes it must be shared by all of them."""
    backend = settings.CACHES["default"]["BACKEND"]
    if not settings.DEBUG and backend.endswith(("LocMemCache", "DummyCache")):
        return [
            Error(
                "The default cache is local to each process.",
                hint="Set CACHE_URL to a shared cache (redis://...): configuration changes, API key "
                "revocations, throttles and login limits must reach every web process.",
                id="crm.E001",
            )
        ]
    return []


@register(deploy=True)
def sender_identity_for_marketing_mail(app_configs, **kwargs):
    """The Act on Specified Electronic Mail: every marketing mail names the sender and its address."""
    if not settings.DEBUG and not (settings.TSUNAGU_SENDER_NAME.strip() and settings.TSUNAGU_SENDER_ADDRESS.strip()):
        return [
            Warning(
                "Marketing mails do not carry the sender's postal address.",
                hint="Set TSUNAGU_SENDER_NAME and TSUNAGU_SENDER_ADDRESS (the shop's name and postal address); "
                "they are added to every campaign mail.",
                id="crm.W001",
            )
        ]
    return []
