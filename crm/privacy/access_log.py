"""Who saw whom: every read of a person's data leaves one row in the access log.

A read costs one INSERT whatever the number of customers it shows (a search page is one multi-row
insert), written in the request's own connection. What it costs is mostly its commit: a read that
wrote nothing now waits for the WAL flush. With ACCESS_LOG_RELAXED_COMMIT (PostgreSQL) that commit
does not wait (synchronous_commit=off for this one transaction): a crash of the database server, not
of a web process, may then lose the last fraction of a second of entries. bench/access_log.py
measures both on the customer read endpoint. The log carries ids, never names or contacts."""

import logging
from collections.abc import Iterable
from datetime import timedelta
from ipaddress import ip_address

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_guid import get_guid

from ..models import AccessLogEntry, ApiKey, Customer
from ..security import client_ip

log = logging.getLogger(__name__)
Kind = AccessLogEntry.Kind


def _actor(request) -> tuple[object, ApiKey | None, str]:
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return None, auth, f"api-key:{auth.name} ({auth.prefix})"[:150]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.pk is not None:
        return user, None, user.email[:150]
    return None, None, "anonymous"


def _address(request) -> str | None:
    try:
        return str(ip_address(client_ip(request)))
    except ValueError:
        return None


def log_access(*, request, customers: Iterable[Customer], kind: str, what: str = "") -> int:
    """Record that `request`'s user or API key read these customers' data (one INSERT)."""
    user, api_key, actor = _actor(request)
    common = {
        "at": timezone.now(), "kind": kind, "what": (what or f"{request.method} {request.path}")[:255],
        "actor": actor, "ip_address": _address(request), "request_id": (get_guid() or "")[:64],
    }  # fmt: skip
    customer_ids = list(dict.fromkeys(c.pk for c in customers))
    if not customer_ids:
        return 0
    values = [
        connection.ops.adapt_datetimefield_value(common["at"]), common["kind"], common["what"],
        user.pk if user else None, api_key.pk if api_key else None, common["actor"], common["ip_address"],
        common["request_id"],
    ]  # fmt: skip
    # One statement in autocommit (the ORM's bulk_create would add BEGIN and COMMIT round trips).
    sql = _INSERT_SQL + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(customer_ids))
    params = [value for pk in customer_ids for value in (pk, *values)]
    if relaxed_commit() and connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # this transaction only
            cursor.execute(sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return len(customer_ids)


_INSERT_SQL = (
    "INSERT INTO crm_accesslogentry (customer_id, at, kind, what, user_id, api_key_id, actor, ip_address, request_id) "
    "VALUES "
)


def relaxed_commit() -> bool:
    return getattr(settings, "ACCESS_LOG_RELAXED_COMMIT", False)


def log_command_access(*, customer: Customer, kind: str, what: str, user=None) -> AccessLogEntry:
    """A read outside a request: a management command (`export_customer`) or a service run by one."""
    actor = user.email if user is not None else f"command:{what.split()[0]}"
    return AccessLogEntry.objects.create(
        customer=customer, kind=kind, what=what[:255], user=user, actor=actor[:150], request_id=(get_guid() or "")[:64]
    )


# --- Reads of the log -------------------------------------------------------------------------------
def access_log(*, customer_ids: Iterable[int] | None = None) -> QuerySet[AccessLogEntry]:
    qs = AccessLogEntry.objects.select_related("customer", "user", "api_key").order_by("-at", "-pk")
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=list(customer_ids))
    return qs


def retention_days() -> int:
    return getattr(settings, "ACCESS_LOG_RETENTION_DAYS", 1095)


def purge_access_log(*, now=None) -> int:
    """Forget entries older than the retention period (ACCESS_LOG_RETENTION_DAYS). Idempotent."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days())
    deleted, _ = AccessLogEntry.objects.filter(at__lt=cutoff).delete()
    log.info("access log purged rows=%s", deleted)
    return deleted
