"""Django's makemessages, run once from the project root, filing every string in its app's catalogue.

Django files a string under the nearest `locale/` directory above its source file, so an app's Python
code already lands in `<app>/locale/`. Templates live in the project's `templates/<app>/` and would
land in the project catalogue (`locale/`); this command files them under `<app>/locale/` too.
What is left (crm, the project's base, error, admin and account templates) goes to `locale/`.

`make messages` runs it for Japanese with the project's options, then compiles; `.ci/messages`
checks that doing so would change nothing.
"""

import os

from django.conf import settings
from django.core.management.commands import makemessages


class Command(makemessages.Command):
    def find_files(self, root):
        files = super().find_files(root)
        templates = os.path.abspath(settings.BASE_DIR / "templates")
        for translatable in files:
            parts = os.path.relpath(os.path.abspath(translatable.dirpath), templates).split(os.sep)
            if parts[0] == os.pardir:
                continue
            app_locale = os.path.join(settings.BASE_DIR, parts[0], "locale")
            if parts[0] not in ("", ".") and os.path.isdir(app_locale):
                translatable.locale_dir = app_locale
        return files
