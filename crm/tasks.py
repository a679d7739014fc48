from celery import shared_task

from .services.maintenance import purge_idempotency_records


@shared_task(name="crm.purge_idempotency_records")
def purge_idempotency_records_task() -> int:
    """Daily: forget Idempotency-Keys older than their 24 h window. Idempotent."""
    return purge_idempotency_records()
