import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.roles import ADMIN

DEMO_EMAIL = "admin@tsunagu.example"
LOGIN_FILE = "demo_admin.txt"  # holds the generated password, under var/ (git-ignored)


class Command(BaseCommand):
    help = (
        "For `make run` on a development machine: make sure someone can log in. With DEBUG on and no superuser, "
        "create admin@tsunagu.example with a random password kept in var/demo_admin.txt, and print the login."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(_("ensure_demo_admin is for development only and refuses to run with DEBUG off."))
        User = get_user_model()
        demo = User.objects.filter(email=DEMO_EMAIL).first()
        if demo is None and User.objects.filter(is_superuser=True).exists():
            self.stdout.write(_("A superuser exists already; log in with that account."))
            return
        path = settings.VAR_DIR / LOGIN_FILE
        stored = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        if demo is None:
            # Reusing a stored password keeps the printed login the same after the database is reset.
            password = stored or secrets.token_urlsafe(12)
            with transaction.atomic():
                demo = User.objects.create_superuser(DEMO_EMAIL, password, display_name=_("Demo admin"))
                demo.groups.add(Group.objects.get(name=ADMIN))
            if not stored:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(password + "\n", encoding="utf-8")
            self.stdout.write(_("Created the demo admin."))
        elif stored and demo.check_password(stored):
            password = stored
        else:
            self.stdout.write(
                _("%(email)s exists and its password is not the one in var/%(file)s; use the password you set.")
                % {"email": DEMO_EMAIL, "file": LOGIN_FILE}
            )
            return
        self.stdout.write(_("Log in at %s") % (settings.TSUNAGU_BASE_URL.rstrip("/") + reverse("account_login")))
        self.stdout.write(_("  email:    %s") % DEMO_EMAIL)
        self.stdout.write(_("  password: %s") % password)
