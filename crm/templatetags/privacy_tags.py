"""Masked contact data for lists shown to staff whose role does not need it in full (store staff see
the full phone and email on the 360 page, whose view is logged)."""

from django import template

register = template.Library()
MASK = "•"


@register.filter
def mask_phone(value: str) -> str:
    """'+819012345678' → '•••••••5678': the last four digits, enough to tell two people apart."""
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    if not digits:
        return ""
    return MASK * max(len(digits) - 4, 3) + digits[-4:]


@register.filter
def mask_email(value: str) -> str:
    """'hanako@example.jp' → 'h•••@example.jp'."""
    local, at, domain = (value or "").partition("@")
    if not at:
        return MASK * 3 if value else ""
    return f"{local[:1]}{MASK * 3}@{domain}"
