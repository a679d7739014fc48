"""Tunables of the contact hub. Each is read from Django settings when set there, else the default
below, so a deployment changes them in crm/settings.py (or the environment it reads) without code."""

from datetime import timedelta

from django.conf import settings

DEFAULTS = {
    # An inbound message joins the sender's open ticket whose last message is at most this old.
    "HUB_THREADING_WINDOW": timedelta(hours=72),
    # When set, inbound API calls must carry X-Tsunagu-Signature: sha256=<hex HMAC-SHA256 of the body>.
    "HUB_INBOUND_WEBHOOK_SECRET": "",
    # Words in a handoff reason (or routed text) that raise a ticket's priority to high.
    "HUB_URGENT_KEYWORDS": ("complaint", "urgent", "angry", "refund", "クレーム", "苦情", "至急", "緊急", "返金"),
    "HUB_MAX_BODY_CHARS": 20_000,
    "HUB_MAX_ATTACHMENTS": 20,
    # Replies by email: the From address, and a Reply-To carrying the ticket id ({ref}).
    "HUB_REPLY_FROM_EMAIL": "Tsunagu Support <support@tsunagu.example>",
    "HUB_REPLY_TO_TEMPLATE": "support+{ref}@tsunagu.example",
    "HUB_MESSAGE_ID_DOMAIN": "tsunagu.example",
    # Public contact form: at most this many submissions per IP address per period.
    "HUB_CONTACT_RATE": (5, timedelta(hours=1)),
    # CSAT survey links stay valid this long.
    "HUB_CSAT_MAX_AGE": timedelta(days=30),
    # Outbound webhooks: attempts before a reply is marked failed, timeout per attempt.
    "HUB_WEBHOOK_MAX_ATTEMPTS": 5,
    "HUB_WEBHOOK_TIMEOUT": 10,
    # Leads never linked to a customer are purged this many days after their last message (APPI).
    "HUB_LEAD_RETENTION_DAYS": 730,
}


def hub_setting(name: str):
    return getattr(settings, name, DEFAULTS[name])
