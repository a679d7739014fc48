from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.scopes import SCOPES
from crm.services import create_api_key


class Command(BaseCommand):
    help = (
        "Create an API key for an integration. The key is printed once, alone on the last line; only its hash is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Who uses the key, e.g. 'EC site'.")
        parser.add_argument("--scopes", required=True, help="Comma-separated: " + ",".join(SCOPES))

    def handle(self, *args, name, scopes, **options):
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        unknown = [scope for scope in wanted if scope not in SCOPES]
        if unknown:
            raise CommandError(
                _("Unknown scope: %(unknown)s. Choose from: %(scopes)s.")
                % {"unknown": ", ".join(unknown), "scopes": ", ".join(SCOPES)}
            )
        try:
            api_key, raw_key = create_api_key(name=name, scopes=wanted)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            _("Created API key %(name)s (%(prefix)s…) with scopes: %(scopes)s.")
            % {"name": api_key.name, "prefix": api_key.prefix, "scopes": ", ".join(api_key.scopes)}
        )
        self.stdout.write(_("Copy the key now; it is not shown again. Send it as: Authorization: Api-Key <key>"))
        self.stdout.write(raw_key)
