"""Per-process copies of configuration that changes rarely and is read on hot paths (earn rules,
tiers, point campaigns, routing rules, SLA policies, API keys), dropped by every process as soon as
one process saves a change.

Each `ConfigCache` keeps its value in process memory with the version it was loaded at. The current
version lives in Django's shared cache (Redis in production: `CACHE_URL`), so one cache GET per use
tells a process whether anything changed. A save or delete of a watched model bumps the version at
once (so the writing process and the tests see it) and again after the transaction commits (so a
process that reloaded between the two read the committed rows). Code that changes watched rows
without `save()` (a queryset `update()`, a data migration) calls `invalidate()` itself.

With the default local-memory cache the version is per process: right for `make run` and the tests,
wrong for several web processes — `check --deploy` warns when production has no shared cache.
"""

import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")
_registry: dict[str, "ConfigCache"] = {}


class ConfigCache(Generic[T]):
    def __init__(self, name: str, loader: Callable[[], T], *, models: Iterable = ()):
        self.name = name
        self.key = f"tsunagu:config-version:{name}"
        self._loader = loader
        self._loaded: tuple[str, T] | None = None  # (version, value), replaced as one object
        self._lock = threading.Lock()
        for model in models:
            watch(model, self)
        _registry[name] = self

    def get(self, *, version: str | None = None) -> T:
        """The value, reloaded if the shared version moved. `version`: the shared version when the
        caller has just read it itself (with other cache work, in one round trip)."""
        version = version or self._current_version()
        loaded = self._loaded
        if loaded is not None and loaded[0] == version:
            return loaded[1]
        with self._lock:
            loaded = self._loaded
            if loaded is None or loaded[0] != version:
                # read the version before the rows: a change committed in between bumps it again
                loaded = (version, self._loader())
                self._loaded = loaded
        return loaded[1]

    def peek(self) -> T | None:
        """The value as last loaded by this process, without asking whether it is still current."""
        loaded = self._loaded
        return None if loaded is None else loaded[1]

    def invalidate(self) -> None:
        """Every process reloads on its next use: now, and once more when the transaction commits."""
        self._bump()
        transaction.on_commit(self._bump)

    def _current_version(self) -> str:
        version = cache.get(self.key)
        if version is None:
            cache.add(self.key, uuid.uuid4().hex, timeout=None)
            version = cache.get(self.key)
        return version

    def _bump(self) -> None:
        cache.set(self.key, uuid.uuid4().hex, timeout=None)
        self._loaded = None


def watch(model, config_cache: ConfigCache) -> None:
    """Invalidate `config_cache` whenever a row of `model` is saved or deleted."""

    def changed(sender, **kwargs):
        config_cache.invalidate()

    uid = f"config-cache:{config_cache.name}:{model._meta.label}"
    post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid)


def config_cache(name: str) -> ConfigCache:
    return _registry[name]
