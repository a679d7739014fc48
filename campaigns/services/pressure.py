"""Contact pressure: how much marketing a customer gets and when, the same for one-off campaigns and
journeys, by mail and by LINE.

- Quiet hours (CAMPAIGNS_QUIET_HOURS, default 21:00–08:00 Asia/Tokyo): nothing marketing leaves.
  A journey step waits for the morning; a campaign's batches stop and leave their recipients
  pending, and the beat's `requeue_stalled_sends` dispatches the campaign again once the quiet hours
  are over (within CAMPAIGNS_STALLED_AFTER of the morning).
- The weekly cap (CAMPAIGNS_WEEKLY_CAP, default 3, or the customer's own lower maximum from the
  preference centre): marketing messages sent in the last 7 days, campaigns and journeys, mail and
  LINE together. A journey message over the cap waits a day; a campaign recipient over it is
  suppressed (`weekly_cap`): a sale notice a week late is no sale notice.
- Topics (the preference centre): campaigns are `news`; journey messages are `offers` after a
  coupon step, else `reminders`. A customer who does not want the topic is suppressed
  (`preferences`).

Counted per batch, not under a lock: two campaigns whose batches reach the same customer in the
same minute may each send the message that reaches the cap (one over, never a run of them).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from .. import conf
from ..models import CampaignRecipient, JourneyMessage, MailPreference

State = CampaignRecipient.State


def in_quiet_hours(now: datetime) -> datetime | None:
    """The end of the quiet hours when `now` lies in them (Asia/Tokyo), else None."""
    hours = conf.quiet_hours()
    if not hours:
        return None
    start, end = hours
    local = timezone.localtime(now)
    quiet = (local.hour >= start or local.hour < end) if start > end else (start <= local.hour < end)
    if not quiet:
        return None
    resume = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if resume <= local:
        resume += timedelta(days=1)
    return resume


class WeekCounts:
    """Marketing messages each of these customers got in the last 7 days (campaigns and journeys, any
    channel), and their preferences: three queries for a whole batch, kept up to date as it sends.
    `customers`: customer pks, or a queryset of them (``.values("customer_id")``)."""

    def __init__(self, customers: Iterable[int] | QuerySet, now: datetime):
        since = now - timedelta(days=7)
        self.sent: dict[int, int] = {}
        for model in (CampaignRecipient, JourneyMessage):
            rows = (
                model.objects.filter(customer_id__in=customers, state="sent", sent_at__gte=since)
                .values("customer_id").annotate(n=Count("pk")).values_list("customer_id", "n")
            )  # fmt: skip
            for customer_id, n in rows:
                self.sent[customer_id] = self.sent.get(customer_id, 0) + n
        self.preferences = {p.customer_id: p for p in MailPreference.objects.filter(customer_id__in=customers)}

    def capped(self, customer_id: int) -> bool:
        preference = self.preferences.get(customer_id)
        caps = [c for c in (conf.weekly_cap(), preference.max_per_week if preference else None) if c]
        return bool(caps) and self.sent.get(customer_id, 0) >= min(caps)

    def wants(self, customer_id: int, topic: str) -> bool:
        preference = self.preferences.get(customer_id)
        return preference is None or topic in preference.topics

    def count(self, customer_id: int) -> None:
        self.sent[customer_id] = self.sent.get(customer_id, 0) + 1


def suppress_over_pressure(*, recipient_ids: list[int], channel: str, now: datetime) -> int:
    """A campaign batch's pending recipients (of one channel) who do not want news or have had their
    weekly maximum: suppressed (`preferences`, `weekly_cap`) before anything is sent. Returns how many."""
    rows = list(
        CampaignRecipient.objects.filter(pk__in=recipient_ids, state=State.PENDING, channel=channel).values_list(
            "pk", "customer_id"
        )
    )
    if not rows:
        return 0
    counts = WeekCounts([customer_id for _pk, customer_id in rows], now)
    reasons: dict[str, list[int]] = {"preferences": [], "weekly_cap": []}
    for pk, customer_id in rows:
        if not counts.wants(customer_id, MailPreference.Topic.NEWS):
            reasons["preferences"].append(pk)
        elif counts.capped(customer_id):
            reasons["weekly_cap"].append(pk)
    suppressed = 0
    for reason, pks in reasons.items():
        if pks:
            suppressed += CampaignRecipient.objects.filter(pk__in=pks, state=State.PENDING).update(
                state=State.SUPPRESSED, suppressed_reason=reason
            )
    return suppressed
