"""Filters the staff pages use to show stored values the way staff read them."""

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from ..forms import MERGE_GROUP_LABELS
from ..models import Channel, Customer, SalesChannel
from ..normalize import format_phone_national

register = template.Library()

# What a merge moved, by the key each app writes into CustomerMerge.moved.
MOVED_LABELS = {
    "identities": _("Channel accounts"),
    "orders": _("Orders"),
    "tickets": _("Tickets"),
    "messages": _("Messages"),
    "points": _("Points"),
    "point_transactions": _("Point transactions"),
    "reservations": _("Reservations"),
    "campaign_recipients": _("Campaign mails"),
}


@register.filter
def phone_national(value: str) -> str:
    """+819012345678 → 090-1234-5678."""
    return format_phone_national(value or "")


@register.filter
def yen(value) -> str:
    if value in (None, ""):
        return ""
    return f"¥{int(value):,}"


@register.filter
def is_store_sale(channel: str) -> bool:
    """A sale at the counter, as opposed to EC, app, phone or catalogue orders."""
    return channel == SalesChannel.STORE


@register.filter
def moved_label(key: str) -> str:
    return MOVED_LABELS.get(key, key.replace("_", " "))


_CHANNEL_LABELS = dict(Channel.choices) | dict(SalesChannel.choices)


@register.filter
def channel_label(value: str) -> str:
    """Human name of a channel code from any app's timeline entry (ec → EC site)."""
    return _CHANNEL_LABELS.get(value, value)


@register.simple_tag
def current_nav(nav_items, path: str) -> str:
    """Key of the menu item whose URL is the longest prefix of the current path."""
    best = max((item for item in nav_items if path.startswith(item["url"])), key=lambda i: len(i["url"]), default=None)
    return best["key"] if best else ""


@register.filter
def taken_from_loser(field_choices: dict) -> list[str]:
    """Labels of the field groups a merge took from the merged-away record."""
    return [
        MERGE_GROUP_LABELS.get(group, group)
        for group, side in (field_choices or {}).items()
        if side in ("loser", "loser_with_blanks")
    ]


@register.filter
def customer_field_label(name: str) -> str:
    """The verbose name of a customer field ("prefecture" → 都道府県)."""
    try:
        return str(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a log written by an older version may name a field since removed
        return name
