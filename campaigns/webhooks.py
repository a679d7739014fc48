"""The ESP's delivery webhook (bounces, complaints), in Mailgun's signed format through Anymail: the
HMAC signature is verified before anything is read; a bad signature answers 400 and changes nothing.
Anymail sends a normalised `tracking` signal, received in receivers.py."""

from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt

from . import conf


@csrf_exempt
def esp_tracking_webhook(request, *args, **kwargs):
    key = conf.esp_webhook_signing_key()
    if not key:
        raise Http404("ESP webhook not configured")
    view = MailgunTrackingWebhookView.as_view(webhook_signing_key=key)
    return view(request, *args, **kwargs)
