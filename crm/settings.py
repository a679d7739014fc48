"""Tsunagu settings: 12-factor, every knob is an environment variable.

With nothing set, Tsunagu runs for development on a laptop: SQLite under var/, Celery tasks run
eagerly in-process, mail is written to files under var/mail/. Production sets DEBUG=false and
must then provide SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (PostgreSQL), CELERY_BROKER_URL and
EMAIL_URL; `manage.py check --deploy` is clean with those.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required: no default outside development
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "crm",
    # Receivers of crm's signals run in this order inside the order's transaction, so row locks
    # are always taken loyalty (point account) before inventory (stock levels): no lock cycles.
    "loyalty",
    "inventory",
    "channels_hub",
    "campaigns",
    "insights",  # reads every app above; none imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # security: Content-Security-Policy on every page
    "crm.input_guard.InputGuardMiddleware",  # security: NUL/surrogates refused, overflow → 400, not 500
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.middleware.UserLanguageMiddleware",
    "crm.middleware.LazyMessageMiddleware",  # Django's, with the storage made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "crm.security.MfaRequiredMiddleware",  # security: admins use a second factor before any page
    "crm.security.SessionLimitsMiddleware",  # security: a working day at most, idle timeout
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "crm.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if not env.str("DATABASE_URL", default=""):
    VAR_DIR.mkdir(exist_ok=True)  # a fresh checkout has no var/ yet; SQLite will not create it
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tsunagu.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL + a busy timeout let the dev server and a Celery eager task write without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["crm.db_routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "crm:customer_search"
ACCOUNT_ADAPTER = "crm.auth.StaffOnlyAccountAdapter"  # no public sign-up: admins invite staff
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Tsunagu"
MFA_ADAPTER = "crm.auth.StaffMFAAdapter"  # admins and superusers cannot remove their second factor
# Proxies (load balancers) in front of the web processes, each appending to X-Forwarded-For: login
# limits and the contact form count per client address, never per balancer (crm.security.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- I18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Mail -----------------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):  # e.g. smtp+tls://user:pass@smtp.example.com:587
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tsunagu <noreply@tsunagu.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# campaigns: HMAC key of the ESP's (Mailgun-format, via Anymail) bounce/complaint webhook; empty = endpoint off.
CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY = env.str("CAMPAIGNS_ESP_WEBHOOK_SIGNING_KEY", default="")
# campaigns: contact pressure (campaigns/services/pressure.py). Quiet hours "START-END" in Asia/Tokyo
# (default 21-8: nothing marketing leaves 21:00–08:00), "off" for none; at most N marketing messages
# per customer in 7 days, campaigns and journeys together (0 = no cap).
_quiet = env.str("CAMPAIGNS_QUIET_HOURS", default="21-8").strip().lower()
CAMPAIGNS_QUIET_HOURS = None if _quiet in ("", "off", "none") else tuple(int(h) for h in _quiet.split("-", 1))
CAMPAIGNS_WEEKLY_CAP = env.int("CAMPAIGNS_WEEKLY_CAP", default=3)

# --- Cache (throttling counters, rate limits) -------------------------------------------------
# security: production requires a cache shared by every web process (Redis): login limits, link-proof
# and contact-form limits, API throttles and config invalidation count there (check crm.E001).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://tsunagu") if DEBUG else env.cache("CACHE_URL")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "crm.cache.RedisCache"  # the same, one client per pool (crm/cache.py)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With acks_late on Redis, a task whose worker died comes back after the visibility timeout
# (1 hour by default). Our tasks are short and idempotent, so 15 minutes is safe and timely.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=15 * 60)}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {  # apps route their tasks to the `mail` and `reports` queues
    "channels_hub.deliver_reply": {"queue": "mail"},
    "channels_hub.send_csat_survey": {"queue": "mail"},
    "channels_hub.send_contact_confirmation": {"queue": "mail"},
    "channels_hub.notify_mention": {"queue": "mail"},
    "inventory.send_pickup_ready_mail": {"queue": "mail"},
    "crm.send_order_pickup_mail": {"queue": "mail"},
    "inventory.send_hold_reminder_mail": {"queue": "mail"},
    "campaigns.record_purchases": {"queue": "default"},  # an order's purchase summary, after commit
    "campaigns.*": {"queue": "mail"},
    "insights.*": {"queue": "reports"},
}
CELERY_BEAT_SCHEDULE = {
    "crm-purge-idempotency-records": {"task": "crm.purge_idempotency_records", "schedule": 60 * 60 * 24},
    "crm-purge-access-log": {"task": "crm.purge_access_log", "schedule": crontab(hour=3, minute=30)},
    "channels-hub-purge-inactive-leads": {
        "task": "channels_hub.purge_inactive_leads",
        "schedule": crontab(hour=3, minute=45),
    },
    "crm-cancel-uncollected-pickups": {"task": "crm.cancel_uncollected_pickups", "schedule": 60 * 60},
    "loyalty-expire-points": {"task": "loyalty.expire_points", "schedule": crontab(hour=3, minute=0)},
    "loyalty-recalculate-tiers": {"task": "loyalty.recalculate_tiers", "schedule": crontab(hour=4, minute=0)},
    "inventory-expire-reservations": {"task": "inventory.expire_reservations", "schedule": 60 * 5},
    "inventory-mark-try-on-assists": {"task": "inventory.mark_try_on_assists", "schedule": 60 * 60},
    "inventory-remind-expiring-holds": {"task": "inventory.remind_expiring_holds", "schedule": 60 * 60},
    "channels-hub-mark-sla-breaches": {"task": "channels_hub.mark_sla_breaches", "schedule": 60 * 5},
    "campaigns-start-due": {"task": "campaigns.start_due_campaigns", "schedule": 60},
    "campaigns-requeue-stalled": {"task": "campaigns.requeue_stalled_sends", "schedule": 5 * 60},
    "campaigns-run-journeys": {"task": "campaigns.run_journeys", "schedule": 10 * 60},
    "campaigns-reconcile-purchases": {"task": "campaigns.reconcile_purchases", "schedule": 60 * 60},
    "channels-hub-purge-line-link-proofs": {"task": "channels_hub.purge_line_link_proofs", "schedule": 60 * 60},
    "channels-hub-requeue-line-events": {"task": "channels_hub.requeue_line_events", "schedule": 5 * 60},
    # Daily facts up to yesterday: the trailing days every night, everything once a week (Sunday).
    "insights-refresh-facts": {"task": "insights.refresh_facts", "schedule": crontab(hour=1, minute=15)},
    "insights-refresh-facts-full": {
        "task": "insights.refresh_facts",
        "schedule": crontab(hour=0, minute=30, day_of_week=0),
        "kwargs": {"full": True},
    },
    "insights-build-recommendations": {"task": "insights.build_recommendations", "schedule": crontab(hour=2, minute=0)},
}
CELERY_TIMEZONE = TIME_ZONE

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.api.auth.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "crm.api.negotiation.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["crm.api.parsers.GuardedJSONParser"],  # security: NUL, surrogates, nesting
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.auth.ApiKeyRateThrottle"],
    "EXCEPTION_HANDLER": "crm.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": False,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tsunagu API",
    "DESCRIPTION": "Integration API for EC sites, POS systems and chatbots (contract v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "ENUM_NAME_OVERRIDES": {
        "ContactChannelEnum": "crm.models.Channel",
        "SalesChannelEnum": "crm.models.SalesChannel",
        "ReservationKindEnum": "inventory.models.Reservation.Kind",
        "PointsChannelEnum": "loyalty.api.serializers.REDEEM_CHANNELS",
        "PointTransactionKindEnum": "loyalty.models.PointTransaction.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_problem_responses",
    ],
}
# Requests per API key (and per staff user calling the API) in a fixed window; a key's own
# `rate_limit` (admin, per minute) overrides it. Sized above what one web server can serve
# (README, "API throttle"), so that only a runaway client is ever refused.
API_KEY_THROTTLE_RATE = env.str("API_KEY_THROTTLE_RATE", default="300000/min")
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# A request that took its Idempotency-Key but never finished (the process died) frees the key after this.
IDEMPOTENCY_STALE_AFTER = timedelta(minutes=2)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # a 10,000-row stock sync fits; larger bodies get 413

# --- Tsunagu --------------------------------------------------------------------------------
TSUNAGU_PHONE_REGION = "JP"

# --- Logging: events with ids, never names, emails or phones ----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Production hardening (check --deploy clean when DEBUG is off) ----------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# The public URL of every link Tsunagu mails or prints; by default the address the server listens on.
TSUNAGU_BASE_URL = env.str("TSUNAGU_BASE_URL", default=f"http://{env.str('HOST', default='127.0.0.1:8000')}")

# --- Personal data (issue 13): APPI and the Act on Specified Electronic Mail ---------------------
# Every marketing mail names its sender and the sender's postal address (appended when a template
# lacks them); `check --deploy` asks for the address.
TSUNAGU_SENDER_NAME = env.str("TSUNAGU_SENDER_NAME", default="Tsunagu")
TSUNAGU_SENDER_ADDRESS = env.str("TSUNAGU_SENDER_ADDRESS", default="")
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=1095)  # who saw whom, kept 3 years
# True: an access log entry's commit does not wait for the WAL flush (see crm/privacy/access_log.py).
ACCESS_LOG_RELAXED_COMMIT = env.bool("ACCESS_LOG_RELAXED_COMMIT", default=False)
HUB_LEAD_RETENTION_DAYS = env.int("HUB_LEAD_RETENTION_DAYS", default=730)  # leads without activity, then purged

# --- Security (issue 12): secrets from the environment, sessions, Content-Security-Policy ---------
# The contact hub's inbound HMAC secret (X-Tsunagu-Signature); empty = inbound calls are not signed.
HUB_INBOUND_WEBHOOK_SECRET = env.str("HUB_INBOUND_WEBHOOK_SECRET", default="")
# A staff session lasts a working day at most and ends after an hour without a request
# (crm.security.SessionLimitsMiddleware slides the expiry, writing the session every few minutes).
SESSION_COOKIE_AGE = env.int("STAFF_SESSION_IDLE_MINUTES", default=60) * 60
STAFF_SESSION_MAX_HOURS = env.int("STAFF_SESSION_MAX_HOURS", default=10)
# Scripts and <style> elements come from our origin or carry the page's nonce; style attributes (the
# admin's and Swagger UI's) are allowed, they run nothing. Images: ours and data: URIs (the TOTP QR code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-src": [SELF],  # the campaign preview's sandboxed frame
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

# Fernet keys (newest first) that encrypt stored secrets such as LINE channel secrets and access tokens;
# empty: a key derived from SECRET_KEY (then changing SECRET_KEY means entering those secrets again).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Operations: probes, metrics, request ids, JSON logs (issue 16; README "Running in production") ---
# Kept in one block. It wraps what the blocks above configured (middleware, database engines, mail
# backend, logging), so it stays last.
from django_guid.integrations import CeleryIntegration  # noqa: E402

INSTALLED_APPS += ["django_guid"]
# /healthz, /readyz and /metrics are answered first (probes call by address, over plain HTTP); then
# the request id, then the request metrics and access log, around everything else.
MIDDLEWARE = [
    "crm.ops.middleware.ops_endpoints",
    "crm.ops.middleware.request_id",
    "crm.ops.middleware.request_metrics",
    *MIDDLEWARE,
]
# /metrics: with a token, `Authorization: Bearer <token>` from anywhere; without, loopback only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Multiprocess metrics: each process writes under PROMETHEUS_MULTIPROC_DIR; a scrape sums the files of
# the directories matching METRICS_COLLECT_GLOB (default: that one directory).
METRICS_COLLECT_GLOB = env.str("METRICS_COLLECT_GLOB", default="")
# One log line per request (route, view, status, time, request id): off by default, it costs ~0.1 ms
# per request (bench/ops_overhead.py) and the balancer logs each request already.
ACCESS_LOG = env.bool("ACCESS_LOG", default=False)
PROMETHEUS_LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
# Database time on PostgreSQL: django-prometheus' backend times every statement
# (django_db_query_duration_seconds). SQLite (development) keeps Django's own backend.
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["ENGINE"] = "django_prometheus.db.backends.postgresql"
        _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
# Mails sent and failed are counted around whichever backend EMAIL_URL chose.
TSUNAGU_EMAIL_BACKEND = EMAIL_BACKEND
EMAIL_BACKEND = "crm.ops.metrics.MeteredEmailBackend"
# A Redis cache that stops answering must not hang requests and probes.
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    CACHES["default"].setdefault("OPTIONS", {}).update(socket_connect_timeout=2, socket_timeout=2)
# Request ids: taken from X-Request-ID when it is a UUID, else made; returned in the response and
# carried into the Celery tasks the request queues (and the tasks those queue) by django-guid's Celery
# integration. crm.ops.middleware.request_id sets it (django-guid's own middleware costs ~45 µs more).
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "EXPOSE_HEADER": False,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=False)],
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING below, as JSON
# JSON lines in production (LOG_FORMAT=json, the default with DEBUG off), readable text in development.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "django_guid.log_filters.CorrelationId"},
        "celery_task": {"()": "crm.ops.logs.CeleryTaskFilter"},
        "request_path": {"()": "crm.ops.logs.RequestPathFilter"},
        "forbidden_one_line": {"()": "crm.ops.logs.OneLineForbiddenFilter"},
    },
    "formatters": {
        "json": {"()": "crm.ops.logs.Formatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s [%(correlation_id)s]"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="plain" if DEBUG else "json"),
            "filters": ["request_id", "celery_task", "request_path", "forbidden_one_line"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},  # statements carry parameters: personal data
        "django_guid": {"level": "WARNING"},  # it narrates every request at INFO
    },
}
