"""crm.caching: per-process configuration copies that every process drops when one saves a change."""

import pytest
from django.core.cache import cache
from django.test.utils import override_settings

from crm.caching import ConfigCache
from crm.checks import shared_cache_in_production
from crm.models import Store

from .factories import StoreFactory

pytestmark = pytest.mark.django_db


def make_cache(name, models=(Store,)):
    loads = []

    def loader():
        loads.append(1)
        return sorted(Store.objects.values_list("code", flat=True))

    return ConfigCache(name, loader, models=models), loads


def test_value_is_loaded_once_and_reused_while_nothing_changes():
    stores, loads = make_cache("test.reuse")
    StoreFactory(code="A")
    assert stores.get() == ["A"]
    assert stores.get() == ["A"]
    assert len(loads) == 1


def test_a_saved_row_is_seen_on_the_next_use():
    stores, _ = make_cache("test.save")
    StoreFactory(code="A")
    assert stores.get() == ["A"]
    StoreFactory(code="B")
    assert stores.get() == ["A", "B"]
    Store.objects.get(code="A").delete()
    assert stores.get() == ["B"]


def test_a_change_made_by_another_process_is_seen(django_capture_on_commit_callbacks):
    stores, loads = make_cache("test.other-process")
    StoreFactory(code="A")
    assert stores.get() == ["A"]
    # another process saves a store: its post_save bumps the shared version, which this process
    # notices on its next use (simulated: the row changes without our signal, the version moves)
    Store.objects.filter(code="A").update(code="Z")
    assert stores.get() == ["A"]  # nothing told us yet
    cache.set(stores.key, "version-written-by-another-process")
    assert stores.get() == ["Z"]
    assert len(loads) == 2


def test_invalidate_bumps_again_after_commit(django_capture_on_commit_callbacks):
    stores, _ = make_cache("test.commit")
    stores.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stores.invalidate()
        during = cache.get(stores.key)
    assert len(callbacks) == 1
    assert cache.get(stores.key) != during


def test_a_cleared_shared_cache_reloads():
    stores, loads = make_cache("test.cleared")
    stores.get()
    cache.clear()
    stores.get()
    assert len(loads) == 2


@override_settings(DEBUG=False, CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_deploy_check_refuses_a_per_process_cache():
    assert [w.id for w in shared_cache_in_production(None)] == ["crm.E001"]


@override_settings(DEBUG=False, CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}})
def test_deploy_check_accepts_a_shared_cache():
    assert shared_cache_in_production(None) == []
