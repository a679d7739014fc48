"""Every write of the campaigns app."""

from .campaigns import (
    cancel_campaign,
    create_campaign,
    create_segment,
    finish_campaign_if_done,
    move_campaign_mails,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
    start_campaign,
    start_due_campaigns,
    update_campaign,
    update_segment,
)
from .purchases import (
    move_purchase_summary,
    rebuild_purchase_summary,
    reconcile_recent_purchases,
    record_purchases,
)
from .sending import queue_next_batches, send_recipient_batch, send_test_mail
from .tracking import (
    click_target,
    recipient_for_token,
    record_click,
    record_esp_event,
    record_open,
    unsubscribe_recipient,
)

__all__ = [
    "cancel_campaign",
    "click_target",
    "create_campaign",
    "create_segment",
    "finish_campaign_if_done",
    "move_campaign_mails",
    "move_purchase_summary",
    "pause_campaign",
    "queue_next_batches",
    "rebuild_purchase_summary",
    "recipient_for_token",
    "reconcile_recent_purchases",
    "record_click",
    "record_esp_event",
    "record_open",
    "record_purchases",
    "resume_campaign",
    "schedule_campaign",
    "send_recipient_batch",
    "send_test_mail",
    "start_campaign",
    "start_due_campaigns",
    "unsubscribe_recipient",
    "update_campaign",
    "update_segment",
]
