from celery import shared_task

from .services import expire_points, recalculate_tiers


@shared_task(name="loyalty.expire_points")
def expire_points_task() -> dict:
    """Daily: expire lots past their date. Idempotent (a second run finds nothing left to expire)."""
    return expire_points()


@shared_task(name="loyalty.recalculate_tiers")
def recalculate_tiers_task() -> int:
    """Daily: move accounts to the tier their 12-month spend reaches. Idempotent."""
    return recalculate_tiers()
