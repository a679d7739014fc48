import sys

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.translation import gettext as _

from channels_hub.line.services import configure_line_account


def _secret(value: str | None) -> str | None:
    """`-` reads the value from standard input, so it stays out of the shell history and `ps`."""
    if value == "-":
        return sys.stdin.readline().strip()
    return value


class Command(BaseCommand):
    help = (
        "Connect (or update) a LINE official account: its channel secret and channel access token from the "
        "LINE Developers console. Secrets are stored encrypted and never printed. Pass '-' to read one from stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Short name, used in the webhook URL /hooks/line/NAME/.")
        parser.add_argument("--channel-secret", help="Basic settings → Channel secret ('-': read from stdin).")
        parser.add_argument("--access-token", help="Messaging API → Channel access token ('-': read from stdin).")
        parser.add_argument("--api-base", help="Another LINE API server, e.g. the local fake (http://127.0.0.1:8765).")
        parser.add_argument("--label", help="A name for people, e.g. the shop's LINE account name.")
        parser.add_argument("--link-keyword", help="Text a LINE user sends to connect their membership.")
        parser.add_argument("--inactive", action="store_true", help="Stop using the account (webhook answers 404).")

    def handle(self, *args, name, channel_secret, access_token, api_base, label, link_keyword, inactive, **options):
        try:
            account, created = configure_line_account(
                name=name, channel_secret=_secret(channel_secret), access_token=_secret(access_token),
                api_base=api_base, label=label, link_keyword=link_keyword, active=False if inactive else None,
            )  # fmt: skip
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            ) from exc
        webhook = settings.TSUNAGU_BASE_URL.rstrip("/") + reverse("line:webhook", args=[account.name])
        self.stdout.write(
            (_("Created LINE account %(name)s.") if created else _("Updated LINE account %(name)s."))
            % {"name": account.name}
        )
        self.stdout.write(_("Webhook URL to enter in the LINE Developers console: %(url)s") % {"url": webhook})
