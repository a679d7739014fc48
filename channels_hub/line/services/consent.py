"""Consent to LINE marketing: a LINE user follows (adds or unblocks) or unfollows (blocks) an account,
or opts out of LINE campaigns through the unsubscribe link of a campaign message."""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import LineFollower
from ..signals import line_follow_changed

logger = logging.getLogger(__name__)


def follower(*, account_id: int, line_user_id: str) -> LineFollower:
    """The account's row for this LINE user, made on first sight (not following until LINE says so)."""
    row, _created = LineFollower.objects.get_or_create(account_id=account_id, line_user_id=line_user_id)
    return row


def record_follow(*, account_id: int, line_user_id: str, follows: bool, at: datetime) -> bool:
    """Apply a follow or unfollow event if it is newer than the last change (events can arrive late
    or be redelivered). A follow also clears an earlier explicit opt-out: it is the newer decision.
    Returns whether anything changed."""
    follower(account_id=account_id, line_user_id=line_user_id)
    with transaction.atomic():
        fields = {"follows": follows, "follow_changed_at": at}
        if follows:
            fields["opted_out_at"] = None
        changed = (
            LineFollower.objects.filter(account_id=account_id, line_user_id=line_user_id)
            .filter(Q(follow_changed_at__isnull=True) | Q(follow_changed_at__lt=at))
            .update(**fields)
        )
        if changed:
            line_follow_changed.send(
                sender=LineFollower, account_id=account_id, line_user_id=line_user_id, follows=follows, at=at
            )
    if changed:
        logger.info("line consent account_pk=%d follows=%s", account_id, follows)
    return bool(changed)


def opt_out_of_line_marketing(*, account_id: int, line_user_id: str, at: datetime | None = None) -> bool:
    """The LINE user asked for no more campaign messages from this account (they still follow it)."""
    at = at or timezone.now()
    done = LineFollower.objects.filter(
        account_id=account_id, line_user_id=line_user_id, opted_out_at__isnull=True
    ).update(opted_out_at=at)
    if done:
        logger.info("line campaign opt-out account_pk=%d", account_id)
    return bool(done)


def import_line_followers(*, connector, at: datetime | None = None) -> int:
    """Record the account's current friends as following (an account connected to Tsunagu after people
    added it never received their follow events). Returns how many follows were new. A later unfollow
    event still wins; an older one no longer does."""
    at = at or timezone.now()
    changed = 0
    for line_user_id in connector.follower_ids():
        changed += record_follow(account_id=connector.pk, line_user_id=line_user_id[:64], follows=True, at=at)
    logger.info("line followers imported account=%s new=%d", connector.name, changed)
    return changed
