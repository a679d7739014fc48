from celery import shared_task

from .privacy.access_log import purge_access_log
from .services.fulfilment import cancel_uncollected_pickups, send_order_pickup_mail
from .services.maintenance import purge_idempotency_records


@shared_task(name="crm.purge_idempotency_records")
def purge_idempotency_records_task() -> int:
    """Daily: forget Idempotency-Keys older than their 24 h window. Idempotent."""
    return purge_idempotency_records()


@shared_task(name="crm.purge_access_log")
def purge_access_log_task() -> int:
    """Daily: forget access log entries older than ACCESS_LOG_RETENTION_DAYS. Idempotent."""
    return purge_access_log()


@shared_task(name="crm.cancel_uncollected_pickups")
def cancel_uncollected_pickups_task() -> int:
    """Beat: cancel pickups not collected within INVENTORY_PICKUP_DAYS of being ready, with a mail."""
    return cancel_uncollected_pickups()


@shared_task(name="crm.send_order_pickup_mail", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_pickup_mail_task(order_id: int, kind: str) -> bool:
    return send_order_pickup_mail(order_id=order_id, kind=kind)
