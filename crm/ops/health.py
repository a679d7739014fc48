"""What /readyz reports: can this process serve? Database, migrations, cache and broker.

Each check answers "ok" or a short word ("unreachable", "pending"); the details go to the log, never
to the caller (they may name hosts). Checks are bounded by short timeouts so that a probe answers
within a few seconds even when a dependency hangs.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

logger = logging.getLogger(__name__)

OK = "ok"
UNREACHABLE = "unreachable"
PENDING = "pending"
UNKNOWN = "unknown"

_migrations_done = False  # once every migration of this code is applied, it stays so for this process
_expected_migrations: set[tuple[str, str]] | None = None


def readiness() -> tuple[bool, dict[str, str]]:
    checks = {"database": check_database()}
    checks["migrations"] = check_migrations() if checks["database"] == OK else UNKNOWN
    checks["cache"] = check_cache()
    checks["broker"] = check_broker()
    return all(state == OK for state in checks.values()), checks


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("readyz: database unreachable", exc_info=True)
        return UNREACHABLE
    return OK


def check_migrations() -> str:
    global _migrations_done, _expected_migrations
    if _migrations_done:
        return OK
    if _expected_migrations is None:  # what the code on disk expects, read once per process
        _expected_migrations = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    try:
        applied = set(MigrationRecorder(connection).applied_migrations())
    except DatabaseError:
        logger.warning("readyz: cannot read applied migrations", exc_info=True)
        return UNREACHABLE
    missing = _expected_migrations - applied
    if missing:
        logger.warning("readyz: %d migrations not applied, e.g. %s", len(missing), sorted(missing)[0])
        return PENDING
    _migrations_done = True
    return OK


def check_cache() -> str:
    try:
        cache.set("tsunagu:readyz", "1", 30)
        if cache.get("tsunagu:readyz") != "1":
            raise ConnectionError("the cache did not return what was just written")
    except Exception:
        logger.warning("readyz: cache unreachable", exc_info=True)
        return UNREACHABLE
    return OK


def check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return OK  # development: tasks run eagerly in this process
    from ..celery import app

    try:
        # A fresh connection each time: a pooled one may look connected to a broker that has gone.
        with app.connection_for_write(url=settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
    except Exception:
        logger.warning("readyz: broker unreachable", exc_info=True)
        return UNREACHABLE
    return OK
