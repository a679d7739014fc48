"""Celery tasks: thin, idempotent, ids as arguments."""

from celery import shared_task

from . import services


@shared_task(name="inventory.expire_reservations")
def expire_reservations_task() -> int:
    """Beat: release the stock of reservations past their expiry. Safe to run twice."""
    return services.expire_reservations()


@shared_task(name="inventory.mark_try_on_assists")
def mark_try_on_assists_task() -> int:
    """Beat: mark orders that followed a try-on as assisted by its store. Safe to run twice."""
    return services.mark_try_on_assists()


@shared_task(name="inventory.remind_expiring_holds")
def remind_expiring_holds_task() -> int:
    """Beat: queue one reminder per hold that expires soon; each is sent once (claimed on the row)."""
    ids = services.holds_due_for_reminder()
    for reservation_id in ids:
        send_hold_reminder_mail_task.delay(reservation_id)
    return len(ids)


@shared_task(name="inventory.send_pickup_ready_mail", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_pickup_ready_mail_task(reservation_id: int) -> bool:
    return services.send_pickup_ready_mail(reservation_id=reservation_id)


@shared_task(name="inventory.send_hold_reminder_mail", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_hold_reminder_mail_task(reservation_id: int) -> bool:
    return services.send_hold_reminder_mail(reservation_id=reservation_id)
