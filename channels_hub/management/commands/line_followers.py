from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from channels_hub.line.client import LineApiError, connector_for
from channels_hub.line.services import import_line_followers


class Command(BaseCommand):
    help = (
        "Record the current friends of a LINE official account as following it (consent to LINE messages), "
        "for friends who added the account before it was connected to Tsunagu. LINE offers the list to "
        "verified and premium accounts only; later follow and block events keep it up to date."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The LINE account's name in Tsunagu.")

    def handle(self, *args, name, **options):
        connector = connector_for(name)
        if connector is None:
            raise CommandError(_("No active LINE account of this name."))
        try:
            changed = import_line_followers(connector=connector)
        except LineApiError as exc:
            raise CommandError(f"LINE {exc.status}: {exc.message}") from exc
        self.stdout.write(_("%(n)d LINE users recorded as following.") % {"n": changed})
