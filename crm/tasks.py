from celery import shared_task

from .privacy.access_log import purge_access_log
from .services.maintenance import purge_idempotency_records


@shared_task(name="crm.purge_idempotency_records")
def purge_idempotency_records_task() -> int:
    """Daily: forget Idempotency-Keys older than their 24 h window. Idempotent."""
    return purge_idempotency_records()


@shared_task(name="crm.purge_access_log")
def purge_access_log_task() -> int:
    """Daily: forget access log entries older than ACCESS_LOG_RETENTION_DAYS. Idempotent."""
    return purge_access_log()
