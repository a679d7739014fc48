"""Receivers: each is one line into a service."""

from anymail.signals import tracking
from django.dispatch import receiver

from crm.signals import customers_merged

from .services import move_campaign_mails, record_esp_event


@receiver(customers_merged, dispatch_uid="campaigns.move_campaign_mails")
def on_customers_merged(sender, winner, loser, merge, **kwargs):
    move_campaign_mails(winner=winner, loser=loser, merge=merge)


@receiver(tracking, dispatch_uid="campaigns.esp_tracking")
def on_esp_tracking(sender, event, esp_name, **kwargs):
    record_esp_event(event_type=event.event_type, email=event.recipient or "", message_id=event.message_id or "")
