import datetime as dt

from django.utils import timezone

from campaigns.models import Journey
from campaigns.services.journeys import activate_journey, save_journey

MAIL = {
    "kind": "email",
    "subject": "{{ customer.family_name }}様へ",
    "body_text": "{{ customer.family_name }}様\n{% if coupon %}クーポン {{ coupon.printed }}{% endif %}\n"
    "設定: {{ preferences_url }}\n停止: {{ unsubscribe_url }}",
}
# Midday in Tokyo: outside the quiet hours.
NOON = dt.datetime(2026, 6, 10, 3, 0, tzinfo=dt.UTC)


def make_journey(trigger="customer_created", steps=None, *, activated_at=None, **fields):
    journey = Journey(name=fields.pop("name", "ようこそ"), trigger=trigger, from_email="Shop <news@shop.example>",
                      **fields)  # fmt: skip
    save_journey(journey=journey, steps=steps or [MAIL])
    return activate_journey(journey=journey, now=activated_at or NOON - dt.timedelta(days=30))


def at(days=0, hours=0, minutes=0):
    return NOON + dt.timedelta(days=days, hours=hours, minutes=minutes)


__all__ = ["MAIL", "NOON", "at", "make_journey", "timezone"]
