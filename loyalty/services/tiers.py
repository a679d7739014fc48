"""Tiers follow spend over the last 12 months; the nightly task moves accounts up and down."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, Sum, When
from django.utils import timezone

from crm.models import Order

from .. import conf
from ..models import PointAccount, Tier, TierChange

logger = logging.getLogger(__name__)

_CHUNK = 5000


def spend_in_window(*, since: datetime, until: datetime) -> dict[int, int]:
    """Money paid per customer in the window, less the money of returned goods."""
    kept = Case(
        When(subtotal=0, then=0),
        default=F("total") - F("total") * F("returned_amount") / F("subtotal"),
    )
    rows = (
        Order.objects.filter(customer__isnull=False, ordered_at__gte=since, ordered_at__lt=until)
        .values_list("customer_id")
        .annotate(spend=Sum(kept))
    )
    return dict(rows.iterator(chunk_size=_CHUNK))


def recalculate_tiers(*, now: datetime | None = None) -> int:
    """Put every account in the tier its 12-month spend reaches; each change is recorded in
    TierChange. Idempotent: a second run on the same data changes nothing. Returns the changes."""
    now = now or timezone.now()
    tiers = list(Tier.objects.order_by("-min_spend"))
    if not tiers:
        return 0
    base = tiers[-1]
    spend = spend_in_window(since=now - timedelta(days=conf.tier_window_days()), until=now)
    changes: dict[int, list[tuple[int, int | None, int]]] = defaultdict(list)
    accounts = PointAccount.objects.values_list("pk", "customer_id", "tier_id").order_by("pk")
    for pk, customer_id, tier_id in accounts.iterator(chunk_size=_CHUNK):
        amount = spend.get(customer_id, 0)
        target = next(t for t in tiers if t.min_spend <= amount) if amount >= base.min_spend else base
        if target.pk != (tier_id or base.pk):
            changes[target.pk].append((pk, tier_id, amount))
    count = 0
    for target_id, rows in changes.items():
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            with transaction.atomic():
                PointAccount.objects.filter(pk__in=[pk for pk, _, _ in chunk]).update(
                    tier_id=target_id, tier_changed_at=now
                )
                TierChange.objects.bulk_create(
                    TierChange(account_id=pk, from_tier_id=old or base.pk, to_tier_id=target_id, spend=amount)
                    for pk, old, amount in chunk
                )
            count += len(chunk)
    logger.info("tiers recalculated changes=%d", count)
    return count
