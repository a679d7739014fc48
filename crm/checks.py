"""System checks of Tsunagu's own settings (run by `manage.py check`, `--deploy` in CI)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


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
