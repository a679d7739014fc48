"""Tunables of the loyalty app. Each reads a Django setting of the same name when it is defined;
the defaults below make the app work with nothing configured."""

from django.conf import settings

from crm.money import POINT_VALUE_YEN

# Earned points expire this many months after the order (or award) that earned them.
DEFAULT_EXPIRY_MONTHS = 12
# "Expiring soon" on the customer page and in the balance answer's highlight.
DEFAULT_EXPIRING_SOON_DAYS = 30
# Accounts handled per transaction by the expiry task (bounded lock time, bounded memory).
DEFAULT_EXPIRY_BATCH_SIZE = 20_000
# The window of spend that decides the tier.
DEFAULT_TIER_WINDOW_DAYS = 365


def expiry_months() -> int:
    return getattr(settings, "LOYALTY_POINTS_EXPIRY_MONTHS", DEFAULT_EXPIRY_MONTHS)


def point_value_yen() -> int:
    """What one point is worth in yen: crm's one definition (an order pays with points at this value)."""
    return POINT_VALUE_YEN


def expiring_soon_days() -> int:
    return getattr(settings, "LOYALTY_EXPIRING_SOON_DAYS", DEFAULT_EXPIRING_SOON_DAYS)


def expiry_batch_size() -> int:
    return getattr(settings, "LOYALTY_EXPIRY_BATCH_SIZE", DEFAULT_EXPIRY_BATCH_SIZE)


def tier_window_days() -> int:
    return getattr(settings, "LOYALTY_TIER_WINDOW_DAYS", DEFAULT_TIER_WINDOW_DAYS)


# A manual adjustment of more points than this (either sign) waits for a second person's approval.
DEFAULT_APPROVAL_POINTS = 10_000
# Points one person or one API key may award by hand per day (Asia/Tokyo) without approval: many
# awards just under the approval limit add up like one large one.
DEFAULT_DAILY_AWARD_POINTS = 50_000


def approval_points() -> int:
    return getattr(settings, "LOYALTY_APPROVAL_POINTS", DEFAULT_APPROVAL_POINTS)


def daily_award_points() -> int:
    return getattr(settings, "LOYALTY_DAILY_AWARD_POINTS", DEFAULT_DAILY_AWARD_POINTS)
