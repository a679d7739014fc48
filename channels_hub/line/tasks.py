"""Celery tasks of the LINE channel: thin, idempotent, ids as arguments (imported by AppConfig.ready)."""

from celery import shared_task

from . import services


@shared_task(name="channels_hub.process_line_event", acks_late=True)
def process_line_event(event_pk: int) -> str:
    return services.process_line_event(event_pk=event_pk)


@shared_task(name="channels_hub.purge_line_link_proofs")
def purge_line_link_proofs() -> int:
    return services.purge_link_proofs()


@shared_task(name="channels_hub.requeue_line_events")
def requeue_line_events() -> int:
    """Safety net (beat, every 5 minutes): events whose processing was never queued or was lost run again."""
    pks = services.stalled_line_events()
    for pk in pks:
        process_line_event.delay(pk)
    return len(pks)
