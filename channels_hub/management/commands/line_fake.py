import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse
from django.utils.translation import gettext as _

from channels_hub.line.fake import FakeLine


class Command(BaseCommand):
    help = (
        "Run a local fake of the LINE platform for development: the Messaging API that Tsunagu calls, "
        "and a phone simulator page that sends signed webhook events to Tsunagu. Loopback only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--account", default="demo", help="The Tsunagu LINE account name (webhook URL).")
        parser.add_argument("--channel-secret", default="demo-channel-secret", help="Signs the webhook events.")
        parser.add_argument("--access-token", default="demo-access-token", help="Expected as Bearer token.")
        parser.add_argument("--webhook-url", help="Default: TSUNAGU_BASE_URL/hooks/line/ACCOUNT/")

    def handle(self, *args, port, account, channel_secret, access_token, webhook_url, **options):
        webhook_url = webhook_url or settings.TSUNAGU_BASE_URL.rstrip("/") + reverse("line:webhook", args=[account])
        fake = FakeLine(access_token=access_token, channel_secret=channel_secret, webhook_url=webhook_url, port=port)
        fake.start()
        self.stdout.write(_("Fake LINE on %(url)s, sending events to %(webhook)s. Ctrl-C stops it.")
                          % {"url": fake.base_url, "webhook": webhook_url})  # fmt: skip
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            fake.stop()
