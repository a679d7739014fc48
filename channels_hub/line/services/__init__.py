"""Every write of the LINE channel. Views, admin, commands, tasks and other apps call these."""

from .accounts import configure_line_account
from .consent import import_line_followers, opt_out_of_line_marketing, record_follow
from .inbound import process_line_event, receive_line_webhook, stalled_line_events
from .linking import (
    complete_account_link,
    link_request_for_token,
    prove_line_member,
    purge_link_proofs,
    start_account_link,
)
from .outbound import LineDeliveryFailed, image_of_message, send_reply_on_line, send_text

__all__ = [
    "LineDeliveryFailed",
    "complete_account_link",
    "configure_line_account",
    "image_of_message",
    "import_line_followers",
    "link_request_for_token",
    "opt_out_of_line_marketing",
    "process_line_event",
    "prove_line_member",
    "purge_link_proofs",
    "receive_line_webhook",
    "record_follow",
    "send_reply_on_line",
    "send_text",
    "stalled_line_events",
    "start_account_link",
]
