"""Receivers: each is one line into a service."""

from anymail.signals import tracking
from django.dispatch import receiver

from channels_hub.line.signals import line_follow_changed
from crm.signals import customers_merged, order_recorded

from .services import move_campaign_mails, move_purchase_summary, record_esp_event
from .services.line_sending import record_line_block
from .tasks import record_order_purchases


@receiver(customers_merged, dispatch_uid="campaigns.move_campaign_mails")
def on_customers_merged(sender, winner, loser, merge, **kwargs):
    move_campaign_mails(winner=winner, loser=loser, merge=merge)


@receiver(customers_merged, dispatch_uid="campaigns.move_purchase_summary")
def on_customers_merged_move_purchases(sender, winner, loser, merge, **kwargs):
    move_purchase_summary(winner=winner, loser=loser)


@receiver(order_recorded, dispatch_uid="campaigns.record_purchases")
def on_order_recorded(sender, order, **kwargs):
    record_order_purchases.delay(order.pk)  # sent after the sale committed; a fault here cannot refuse it


@receiver(tracking, dispatch_uid="campaigns.esp_tracking")
def on_esp_tracking(sender, event, esp_name, **kwargs):
    record_esp_event(event_type=event.event_type, email=event.recipient or "", message_id=event.message_id or "")


@receiver(line_follow_changed, dispatch_uid="campaigns.line_block")
def on_line_follow_changed(sender, account_id, line_user_id, follows, at, **kwargs):
    record_line_block(account_id=account_id, line_user_id=line_user_id, follows=follows, at=at)
