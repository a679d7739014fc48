"""Every write of the contact hub. Views, API views, admin, tasks and receivers call these."""

from .channels import add_counter_note, log_call, parse_email, receive_email, submit_contact_form
from .inbound import clean_sender, hand_off_conversation, new_external_id, receive_contact, receive_message
from .tickets import (
    add_internal_note,
    create_customer_from_lead,
    link_lead,
    mark_mentions_seen,
    mark_sla_breaches,
    merge_tickets,
    move_customer_tickets,
    record_csat,
    reply_route,
    reply_to_ticket,
    retry_reply,
    update_ticket,
)

__all__ = [
    "add_counter_note",
    "add_internal_note",
    "clean_sender",
    "create_customer_from_lead",
    "hand_off_conversation",
    "link_lead",
    "log_call",
    "mark_mentions_seen",
    "mark_sla_breaches",
    "merge_tickets",
    "move_customer_tickets",
    "new_external_id",
    "parse_email",
    "receive_contact",
    "receive_email",
    "receive_message",
    "record_csat",
    "reply_route",
    "reply_to_ticket",
    "retry_reply",
    "submit_contact_form",
    "update_ticket",
]
