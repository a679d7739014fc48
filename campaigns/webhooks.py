"""The ESP's delivery webhook (bounces, complaints), in Mailgun's signed format through Anymail: the
HMAC signature is verified before anything is read; a bad signature answers 400 and changes nothing.
Anymail sends a normalised `tracking` signal, received in receivers.py.

Anymail checks the signature only: a signed body captured once could be sent again at any time. So
the signed timestamp must be within CAMPAIGNS_ESP_WEBHOOK_TOLERANCE of now, and each signed token is
accepted once (remembered in the shared cache for the tolerance window on both sides)."""

import json
import time

from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.core.cache import cache
from django.http import Http404, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt

from . import conf


def _fresh_token(body: bytes) -> str | None:
    """The signature's token when its timestamp is fresh, else None."""
    try:
        signature = json.loads(body)["signature"]
        timestamp, token = float(signature["timestamp"]), str(signature["token"])
    except (ValueError, TypeError, KeyError):
        return None
    if abs(time.time() - timestamp) > conf.esp_webhook_tolerance():
        return None
    return token


@csrf_exempt
def esp_tracking_webhook(request, *args, **kwargs):
    key = conf.esp_webhook_signing_key()
    if not key:
        raise Http404("ESP webhook not configured")
    token = _fresh_token(request.body)
    if token is None:
        return HttpResponseBadRequest("Stale, future or missing signature timestamp.")
    seen_key = f"campaigns:esp-token:{token[:200]}"
    if not cache.add(seen_key, 1, timeout=2 * conf.esp_webhook_tolerance()):
        return HttpResponseBadRequest("This signed request was already received.")
    view = MailgunTrackingWebhookView.as_view(webhook_signing_key=key)
    response = view(request, *args, **kwargs)
    if response.status_code >= 400:
        cache.delete(seen_key)  # not accepted: a correct delivery of the same event may still come
    return response
