"""Settings of the real Celery worker that test_worker_kill.py starts: the test's PostgreSQL database,
its own Redis database, mail to the test's local SMTP server, small batches, a short visibility
timeout so that the task of a killed worker is delivered again within seconds."""

import os

from crm.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["WORKER_DB_NAME"]  # noqa: F405
CELERY_BROKER_URL = os.environ["WORKER_BROKER_URL"]
CELERY_TASK_ALWAYS_EAGER = False
# kombu looks for overdue unacked messages every `interval x throttle` seconds (10 x 10 by default).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 4,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["WORKER_SMTP_PORT"])
EMAIL_USE_TLS = False
EMAIL_TIMEOUT = 30
CAMPAIGNS_BATCH_SIZE = 10
CAMPAIGNS_QUIET_HOURS = None  # the real worker reads the wall clock
CAMPAIGNS_THROTTLE = 0
CAMPAIGNS_LINE_MULTICAST_SIZE = 5  # two LINE requests per batch of 10
