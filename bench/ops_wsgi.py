import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.ops_settings")

from crm.wsgi import application  # noqa: F401
