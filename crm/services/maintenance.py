from django.conf import settings
from django.utils import timezone

from ..models import IdempotencyRecord


def purge_idempotency_records(*, now=None) -> int:
    """Delete stored Idempotency-Key answers past their window; returns how many were deleted."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
