"""campaigns' tunables: module-level defaults, each overridable by a Django setting of the same name.

CAMPAIGNS_THROTTLE              messages per second per campaign when the campaign sets none (0 = no limit)
CAMPAIGNS_BATCH_SIZE            recipients per Celery task; one mail connection (SMTP session) per batch
CAMPAIGNS_ATTRIBUTION_DAYS      orders within this many days after the send count for the campaign
CAMPAIGNS_UNSUBSCRIBE_MAILTO    optional address for the mailto: part of List-Unsubscribe
CAMPAIGNS_QUEUE_WINDOW          batches of one campaign queued ahead at most; each finished batch queues the next
CAMPAIGNS_STALLED_AFTER         a sending campaign with no progress for this long has its batches queued again
CAMPAIGNS_RELAXED_COMMIT        True: the per-mail "sent" commit does not wait for the WAL flush (PostgreSQL
                                synchronous_commit=off). Faster; a database crash (not a worker crash) may
                                then lose the last fraction of a second of "sent" marks and resend those mails.
CAMPAIGNS_LINE_REQUESTS_PER_SECOND  LINE push/multicast requests per second per batch (LINE allows 200 multicast/s
                                per account; the default leaves room for a second worker)
CAMPAIGNS_LINE_MULTICAST_SIZE   LINE recipients per multicast request (at most 500, LINE's limit)
CAMPAIGNS_MARK_SENT_PATIENCE    how long a worker keeps trying to record "sent" for a mail the server accepted while the
                                database was unreachable (after that the mail may be sent again)
CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY   Mailgun-style HMAC key of the ESP tracking webhook (empty: endpoint off)
CAMPAIGNS_ESP_WEBHOOK_TOLERANCE     seconds a signed webhook's timestamp may differ from now (default 900)
CAMPAIGNS_WEEKLY_CAP            at most this many marketing messages (campaigns and journeys, mail and LINE) per
                                customer in 7 days; a journey message over it waits a day, a campaign recipient is
                                suppressed (0 = no cap; a customer may choose fewer)
CAMPAIGNS_QUIET_HOURS           (start hour, end hour) in Asia/Tokyo: no marketing message is sent (default 21–8)
CAMPAIGNS_JOURNEY_ENTER_PER_RUN customers one run of a journey enrols at most; a larger audience (a first activation)
                                enters over the next runs, so that every run stays within seconds
"""

from datetime import timedelta

from django.conf import settings


def throttle() -> int:
    return getattr(settings, "CAMPAIGNS_THROTTLE", 100)


def batch_size() -> int:
    return getattr(settings, "CAMPAIGNS_BATCH_SIZE", 500)


def attribution_days() -> int:
    return getattr(settings, "CAMPAIGNS_ATTRIBUTION_DAYS", 7)


def unsubscribe_mailto() -> str:
    return getattr(settings, "CAMPAIGNS_UNSUBSCRIBE_MAILTO", "")


def stalled_after() -> timedelta:
    return getattr(settings, "CAMPAIGNS_STALLED_AFTER", timedelta(minutes=5))


def esp_webhook_signing_key() -> str:
    return getattr(settings, "CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY", "")


def base_url() -> str:
    return settings.TSUNAGU_BASE_URL.rstrip("/")


def relaxed_commit() -> bool:
    return getattr(settings, "CAMPAIGNS_RELAXED_COMMIT", False)


def esp_webhook_tolerance() -> int:
    return getattr(settings, "CAMPAIGNS_ESP_WEBHOOK_TOLERANCE", 15 * 60)


def line_requests_per_second() -> int:
    return getattr(settings, "CAMPAIGNS_LINE_REQUESTS_PER_SECOND", 80)


def line_multicast_size() -> int:
    return getattr(settings, "CAMPAIGNS_LINE_MULTICAST_SIZE", 500)


def queue_window() -> int:
    return getattr(settings, "CAMPAIGNS_QUEUE_WINDOW", 4)


def queue_horizon() -> float:
    """Seconds ahead a batch may be queued (its countdown) and the longest a batch may take: half the
    broker's visibility timeout, after which Redis would deliver an unacknowledged task again."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    return options.get("visibility_timeout", 3600) / 2


def mark_sent_patience() -> timedelta:
    return getattr(settings, "CAMPAIGNS_MARK_SENT_PATIENCE", timedelta(minutes=5))


def weekly_cap() -> int:
    return getattr(settings, "CAMPAIGNS_WEEKLY_CAP", 3)


def quiet_hours() -> tuple[int, int] | None:
    return getattr(settings, "CAMPAIGNS_QUIET_HOURS", (21, 8))


def journey_enter_per_run() -> int:
    return getattr(settings, "CAMPAIGNS_JOURNEY_ENTER_PER_RUN", 50_000)
