"""Settings shared by every environment, read from the environment with django-environ.

Every variable is documented in `.env.example`. `local.py` (make run, manage.py) and
`production.py` (granian, docker) only change defaults and add safety checks.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CAPTPATHFINDER_VAR_DIR") or BASE_DIR / "var")

env = environ.Env()
# A developer's .env is read when present; real deployments pass the environment itself.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# An empty variable means "use the default" (as a blank line copied from .env.example or
# docker-compose's `${VAR:-}` pass-through would give), never an empty path, URL or key.
for _name in [name for name, value in os.environ.items() if value == ""]:
    del os.environ[_name]

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    # First, so its admin/index.html (the health panel) overrides the admin's.
    "console",
    # Django's admin with the console's site: operators' sections first (console.sites).
    "console.sites.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "django_guid",
    "django_celery_beat",
    # Country codes for audiences' filters (a multiple-choice field, names and codes).
    "django_countries",
    "core",
    "classification",
    "detections",
    "digests",
    "reports",
    "crm",
    "access",
    # Admin login lockout after repeated failures (AXES_* below).
    "axes",
]

MIDDLEWARE = [
    # Request count and latency by view/status (django-prometheus's metric names, fewer series).
    "core.metrics.RequestMetricsMiddleware",
    # Request id from X-Request-ID (or a new one), returned in the response and carried into logs and
    # tasks; a caller's id longer than 128 characters or with other than letters, digits and ._:- is dropped.
    "core.request_ids.request_id_sanitize",
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    # Webhook deliveries are answered here: they need none of what follows.
    "detections.webhook.WebhookMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Bidirectional formatting characters out of HTML pages (inside CommonMiddleware, which then
    # sets the Content-Length of what is left).
    "core.middleware.html_bidi_strip",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

# Admin login lockout (django-axes, on the database every process shares): after
# ADMIN_LOGIN_FAILURE_LIMIT failures for a username from an address, or from an address for any
# usernames, logging in from there is refused for ADMIN_LOGIN_LOCKOUT_MINUTES; an operator
# unlocks sooner in the admin (Access attempts). Not by username alone: a stranger could then
# lock an operator out from anywhere.
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "access.lockout.client_ip"
AXES_LOCKOUT_TEMPLATE = "access/locked_out.html"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user or address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "captpathfinder.urls"
WSGI_APPLICATION = "captpathfinder.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # The digest email (digests/jinja2/): a week of 10,000 detections renders 1,000 bodies,
        # and Jinja2 renders them about four times faster than Django's engine. Autoescaped.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
    },
]

# --- Database ---------------------------------------------------------------------------------
# PostgreSQL only. Without DATABASE_URL: the embedded server `make run` starts (scripts/run.py),
# listening on a socket in var/postgres. Production requires DATABASE_URL (production.py).
EMBEDDED_POSTGRES_DIR = VAR_DIR / "postgres"
DATABASE_URL = env.str("DATABASE_URL", default=f"postgresql://postgres@/captpathfinder?host={EMBEDDED_POSTGRES_DIR}")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(f"DATABASE_URL must name a PostgreSQL database, not {DATABASES['default']['ENGINE']}")
# Each process (a web worker runs Django on one thread, a Celery pool process on one) keeps
# one persistent connection: measured cheaper per webhook than taking one from psycopg's pool
# and giving it back on every request. No health check per request (a `SELECT 1` each
# time): a connection that broke fails that request with a 503 and Django drops it at the
# end of the request or task. DATABASE_POOL=true selects psycopg 3's pool instead (threaded
# servers); Django requires CONN_MAX_AGE = 0 with it.
if env.bool("DATABASE_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)
# Many hosts: PgBouncer in transaction mode between them and PostgreSQL (docs/pooling.md). A
# server connection then serves one transaction of a client and moves on, so nothing may outlive
# a transaction on the default connection: server-side cursors, which `.iterator()` opens
# WITH HOLD outside a transaction, are off; session locks go through DATABASE_SESSION_URL; the
# intake call is not prepared (core.database.server_bound_cursor).
DATABASE_TRANSACTION_POOLING = env.bool("DATABASE_TRANSACTION_POOLING", default=False)
# The "session" alias: a connection that stays one PostgreSQL session, for the write-back's
# writer lock (detections/locks.py). Under PgBouncer, its session-mode entry for the database
# or PostgreSQL itself. Unset, that lock is taken on the default connection, a session of its own
# when no transaction pooler sits between. Opened for the lock and closed after it (CONN_MAX_AGE
# 0), so it holds a server connection only while a writer runs. Tests use the default's database.
DATABASE_SESSION_URL = env.str("DATABASE_SESSION_URL", default="")
if DATABASE_SESSION_URL:
    DATABASES["session"] = {**env.db_url_config(DATABASE_SESSION_URL), "CONN_MAX_AGE": 0, "TEST": {"MIRROR": "default"}}
if DATABASE_TRANSACTION_POOLING:
    if not DATABASE_SESSION_URL:
        raise ImproperlyConfigured(
            "DATABASE_TRANSACTION_POOLING needs DATABASE_SESSION_URL: the write-back's session lock would otherwise "
            "go through the transaction pool, where its unlock may reach another server connection (docs/pooling.md)."
        )
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True
# One way of writing a moment across the admin, zone named: "Dec 6, 2026 14:22 EST".
FORMAT_MODULE_PATH = ["captpathfinder.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Generated files (month-end reports) go through the default storage: MEDIA_ROOT, or an
# S3-compatible bucket through django-storages (optional: pip install -r requirements-s3.txt).
# Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a role, …).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "location": env.str("AWS_LOCATION", default=""),
            # Reports hold personal data: private objects, signed short-lived URLs, no overwrites.
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }

# --- Django REST framework --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff, and the model permissions each view names (access/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.StaffWithModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    # Per token (staff user) on the API; anonymous and failed-auth callers are limited per IP
    # by the exception handler (DRF would answer them 401 before any throttle ran).
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_RATE_USER", default="1000/min"),
        "unauthenticated": env.str("API_THROTTLE_RATE_UNAUTHENTICATED", default="100/min"),
        # inSided sends bulk profile updates in bursts: generous, and per sending IP.
        "webhook": env.str("WEBHOOK_THROTTLE_RATE", default="120000/min"),
    },
    # Behind a proxy (production) the client address is the last X-Forwarded-For hop it added.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CaptPathfinder API",
    "DESCRIPTION": (
        "Senior-executive detection for an inSided community: the community webhook, and the operators' "
        "API (stats, members, detections, digests, reports, classification). Every /api/ endpoint needs a "
        "staff user: `Authorization: Token <key>` (manage.py api_token) or an admin session. Errors are "
        '`{"error": <code>, "detail": <message>, "fields": {...}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "classification.models.Level",
        "FunctionEnum": "classification.models.Function",
        "LeftOutReasonEnum": "digests.models.Receipt.LeftOut",
        "DetectionKindEnum": "detections.models.Detection.Kind",
        "DigestKindEnum": "digests.models.Digest.Kind",
    },
    # 3.1: JSON Schema proper, which the webhook's payload models (pydantic) generate.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "detections.schema.webhook_paths",
    ],
}

# --- Observability ----------------------------------------------------------------------------
# /metrics answers a Prometheus scraper presenting this bearer token, or a staff session.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
PROMETHEUS_EXPORT_MIGRATIONS = False
# /health/ready fails when the oldest unprocessed event is older than this, or beat is silent.
READY_MAX_BACKLOG_SECONDS = env.int("READY_MAX_BACKLOG_SECONDS", default=300)
READY_MAX_BEAT_SILENCE_SECONDS = env.int("READY_MAX_BEAT_SILENCE_SECONDS", default=300)
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": True,
    # Accept the caller's id as it is (many are not UUIDs); logs are JSON, so it cannot forge lines.
    "VALIDATE_GUID": False,
    # Tasks enqueued by a request log that request's id (the id travels in the task's headers).
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=True)],
}

# --- Celery -----------------------------------------------------------------------------------
# Without CELERY_BROKER_URL, kombu's filesystem transport in var/broker needs no server. The
# transport ignores the host; naming one keeps kombu from warning "No hostname was supplied"
# in every process on every start.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # The exchange tables; kombu's default is a control/ folder in the working directory.
        "control_folder": str(_broker_dir / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Fail fast when Redis is down: the webhook has stored the event already and the
        # outbox sweep enqueues it later, so a slow publish would only delay the 202.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        # An unacknowledged task (worker killed) comes back after this many seconds.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every task has a soft time limit (SoftTimeLimitExceeded is raised in it: its transaction rolls
# back and the work is retried or left for the next run) and a hard one (the pool process is killed
# and replaced). Without them one task stuck in a slow loop or call holds a worker process for good.
# The long jobs get the CELERY_LONG_TASK_* limits; the table is in docs/operations.md.
CELERY_TASK_SOFT_TIME_LIMIT = env.float("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.float("CELERY_TASK_TIME_LIMIT", default=90)
_LONG_TASK_LIMITS = {
    "soft_time_limit": env.float("CELERY_LONG_TASK_SOFT_TIME_LIMIT", default=1800),
    "time_limit": env.float("CELERY_LONG_TASK_TIME_LIMIT", default=1900),
}
_LONG_TASKS = [
    "detections.tasks.events_purge_old",
    "detections.tasks.community_reconcile",
    "digests.tasks.digest_build_weekly",
    "reports.tasks.report_generate_month_end",
    "reports.tasks.reports_catch_up",
    "reports.tasks.report_generate_month",
]
CELERY_TASK_ANNOTATIONS = {
    **dict.fromkeys(_LONG_TASKS, _LONG_TASK_LIMITS),
    # The writer stops itself after 50 s (writeback.RUN_BUDGET_SECONDS); then the write in flight,
    # with its HTTP timeout and retries, must still fit.
    "detections.tasks.community_grants_write_due": {"soft_time_limit": 120, "time_limit": 150},
}
CELERY_TASK_ALWAYS_EAGER = False
# Celery's Django fixup closes the database connection before and after every task unless this
# is set, and then every this-many tasks. Workers follow CONN_MAX_AGE instead, as requests do
# (captpathfinder/celery.py), so the fixup's own count is put out of reach.
CELERY_DB_REUSE_MAX = 10**9
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Webhook intake -------------------------------------------------------------------------
WEBHOOK_BASIC_AUTH_USERNAME = env.str("WEBHOOK_BASIC_AUTH_USERNAME", default="")
WEBHOOK_BASIC_AUTH_PASSWORD = env.str("WEBHOOK_BASIC_AUTH_PASSWORD", default="")
WEBHOOK_SIGNING_SECRET = env.str("WEBHOOK_SIGNING_SECRET", default="")
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
# Events still unprocessed this long after receipt are re-enqueued by the outbox sweep.
EVENTS_SWEEP_AFTER_SECONDS = env.int("EVENTS_SWEEP_AFTER_SECONDS", default=60)
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=14)
EVENTS_PURGE_BATCH_SIZE = env.int("EVENTS_PURGE_BATCH_SIZE", default=5000)

# --- Community (inSided) API used for enrichment -------------------------------------------
COMMUNITY_API_URL = env.str("COMMUNITY_API_URL", default="")
COMMUNITY_CLIENT_ID = env.str("COMMUNITY_CLIENT_ID", default="")
COMMUNITY_CLIENT_SECRET = env.str("COMMUNITY_CLIENT_SECRET", default="")
COMMUNITY_API_TIMEOUT_SECONDS = env.float("COMMUNITY_API_TIMEOUT_SECONDS", default=10.0)
# Profile field names as the community's admin named them (User API: `_related.userprofilefields`,
# matched case-insensitively). A profile without one is reported (enrichment_error, a metric).
COMMUNITY_FIELD_JOB_TITLE = env.str("COMMUNITY_FIELD_JOB_TITLE", default="Job Title")
COMMUNITY_FIELD_COUNTRY = env.str("COMMUNITY_FIELD_COUNTRY", default="Country")
COMMUNITY_FIELD_COMPANY = env.str("COMMUNITY_FIELD_COMPANY", default="Company")
# The member list (GET /user) for backfills: page size (the documented default is 25, the largest
# is not documented; paging follows the reply's count either way) and request rate.
COMMUNITY_USERS_PAGE_SIZE = env.int("COMMUNITY_USERS_PAGE_SIZE", default=100)
COMMUNITY_BACKFILL_REQUESTS_PER_SECOND = env.float("COMMUNITY_BACKFILL_REQUESTS_PER_SECOND", default=5.0)
# Write-back (opt-in): current senior members at COMMUNITY_WRITEBACK_LEVELS hold this role and/or
# badge in the community, and lose them when they stop being senior. Both belong to this service:
# `community_sync` takes them from anyone else who holds them. The role is named as the community
# names it everywhere (e.g. "roles.Executives"); the badge by its id (GET /gamification/badges).
# Needs credentials the community gave the `write` scope.
COMMUNITY_WRITEBACK_ROLE = env.str("COMMUNITY_WRITEBACK_ROLE", default="")
COMMUNITY_WRITEBACK_BADGE_ID = env.str("COMMUNITY_WRITEBACK_BADGE_ID", default="")
COMMUNITY_WRITEBACK_LEVELS = env.list("COMMUNITY_WRITEBACK_LEVELS", default=["vp", "csuite"])
# own: take the role and badge away only from members the write-back gave them to; everyone: from
# every holder who is not a senior member at those levels (a community manager's grants included).
COMMUNITY_WRITEBACK_TAKE_FROM = env.str("COMMUNITY_WRITEBACK_TAKE_FROM", default="own")
# No rate limits are published: stay under this many write requests per second (one writer at a time).
COMMUNITY_WRITEBACK_REQUESTS_PER_SECOND = env.float("COMMUNITY_WRITEBACK_REQUESTS_PER_SECOND", default=2.0)
# Seconds between attempts at a change the community did not answer (5xx, 429, no reply); after the
# last, failed. A refusal (4xx) fails at once.
COMMUNITY_WRITEBACK_RETRY_SCHEDULE = env.list(
    "COMMUNITY_WRITEBACK_RETRY_SCHEDULE", cast=int, default=[60, 300, 1800, 7200, 21600]
)

# A write-back set up wrong would write nothing, or the wrong thing, without a word: refuse to start.
if COMMUNITY_WRITEBACK_ROLE or COMMUNITY_WRITEBACK_BADGE_ID:
    if not (COMMUNITY_API_URL and COMMUNITY_CLIENT_ID and COMMUNITY_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "COMMUNITY_WRITEBACK_ROLE/_BADGE_ID need COMMUNITY_API_URL, COMMUNITY_CLIENT_ID and "
            "COMMUNITY_CLIENT_SECRET."
        )
    if len(COMMUNITY_WRITEBACK_ROLE) > 255:
        raise ImproperlyConfigured("COMMUNITY_WRITEBACK_ROLE is longer than 255 characters.")
    if COMMUNITY_WRITEBACK_BADGE_ID and not COMMUNITY_WRITEBACK_BADGE_ID.strip().isdigit():
        raise ImproperlyConfigured(f"COMMUNITY_WRITEBACK_BADGE_ID {COMMUNITY_WRITEBACK_BADGE_ID!r} is not a badge id.")
    if not COMMUNITY_WRITEBACK_LEVELS or set(COMMUNITY_WRITEBACK_LEVELS) - {"vp", "csuite"}:
        raise ImproperlyConfigured("COMMUNITY_WRITEBACK_LEVELS must be vp, csuite or both.")
    if COMMUNITY_WRITEBACK_TAKE_FROM not in ("own", "everyone"):
        raise ImproperlyConfigured("COMMUNITY_WRITEBACK_TAKE_FROM must be own or everyone.")

# --- CRM hand-off (Salesforce, opt-in) ----------------------------------------------------------
# When on, each detection at CRM_HANDOFF_LEVELS and of CRM_HANDOFF_KINDS becomes a Task for the owner
# of the customer's Account (docs/crm.md). Credentials of a connected app with the client
# credentials flow; the login URL is the org's My Domain (https://<name>.my.salesforce.com).
SALESFORCE_LOGIN_URL = env.str("SALESFORCE_LOGIN_URL", default="")
SALESFORCE_CLIENT_ID = env.str("SALESFORCE_CLIENT_ID", default="")
SALESFORCE_CLIENT_SECRET = env.str("SALESFORCE_CLIENT_SECRET", default="")
SALESFORCE_API_VERSION = env.str("SALESFORCE_API_VERSION", default="v62.0")
SALESFORCE_TIMEOUT_SECONDS = env.float("SALESFORCE_TIMEOUT_SECONDS", default=10)
CRM_HANDOFF_ENABLED = env.bool("CRM_HANDOFF_ENABLED", default=False)
CRM_HANDOFF_LEVELS = env.list("CRM_HANDOFF_LEVELS", default=["csuite"])
CRM_HANDOFF_KINDS = env.list("CRM_HANDOFF_KINDS", default=["first", "promotion"])
# Detections this recent that have no hand-off get one at each run (crm_sync --since goes further back).
CRM_HANDOFF_LOOKBACK_HOURS = env.int("CRM_HANDOFF_LOOKBACK_HOURS", default=24)
# The Task: due this many days after the detection, with this priority (the org's picklist values).
CRM_TASK_DUE_DAYS = env.int("CRM_TASK_DUE_DAYS", default=3)
CRM_TASK_PRIORITY = env.str("CRM_TASK_PRIORITY", default="Normal")
CRM_TASK_STATUS = env.str("CRM_TASK_STATUS", default="Not Started")
# The custom Text field on Task (Activity) that holds each hand-off's own key: the retry after a lost
# answer looks for it before creating (docs/crm.md).
CRM_TASK_KEY_FIELD = env.str("CRM_TASK_KEY_FIELD", default="CaptPathfinder_Handoff_Key__c")
CRM_TASKS_PER_SECOND = env.float("CRM_TASKS_PER_SECOND", default=2.0)
# Past this share of the org's daily API limit (Sforce-Limit-Info), the hand-off slows to
# CRM_SLOW_TASKS_PER_SECOND: other integrations share the limit.
CRM_SLOW_DOWN_AT_SHARE = env.float("CRM_SLOW_DOWN_AT_SHARE", default=0.8)
CRM_SLOW_TASKS_PER_SECOND = env.float("CRM_SLOW_TASKS_PER_SECOND", default=0.2)
CRM_RETRY_SCHEDULE = env.list("CRM_RETRY_SCHEDULE", cast=int, default=[60, 300, 1800, 7200, 21600])

# A hand-off set up wrong would create nothing, or the wrong thing, without a word: refuse to start.
if CRM_HANDOFF_ENABLED:
    if not (SALESFORCE_LOGIN_URL and SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "CRM_HANDOFF_ENABLED needs SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET."
        )
    if not SALESFORCE_LOGIN_URL.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ImproperlyConfigured(f"SALESFORCE_LOGIN_URL {SALESFORCE_LOGIN_URL!r} is not an https URL.")
    if not CRM_HANDOFF_LEVELS or set(CRM_HANDOFF_LEVELS) - {"vp", "csuite"}:
        raise ImproperlyConfigured(f"CRM_HANDOFF_LEVELS must be vp, csuite or both, not {CRM_HANDOFF_LEVELS}.")
    if not CRM_HANDOFF_KINDS or set(CRM_HANDOFF_KINDS) - {"first", "promotion"}:
        raise ImproperlyConfigured(f"CRM_HANDOFF_KINDS must be first, promotion or both, not {CRM_HANDOFF_KINDS}.")
    if not 0 < CRM_SLOW_DOWN_AT_SHARE <= 1:
        raise ImproperlyConfigured("CRM_SLOW_DOWN_AT_SHARE is a share of the API limit: above 0, at most 1.")
    if CRM_TASKS_PER_SECOND <= 0 or CRM_SLOW_TASKS_PER_SECOND <= 0:
        raise ImproperlyConfigured("CRM_TASKS_PER_SECOND and CRM_SLOW_TASKS_PER_SECOND must be above 0.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", CRM_TASK_KEY_FIELD):
        raise ImproperlyConfigured(f"CRM_TASK_KEY_FIELD {CRM_TASK_KEY_FIELD!r} is not a custom field's API name.")
    if CRM_TASK_DUE_DAYS < 0 or not CRM_RETRY_SCHEDULE:
        raise ImproperlyConfigured("CRM_TASK_DUE_DAYS must be 0 or more, and CRM_RETRY_SCHEDULE not empty.")

# --- Classification -------------------------------------------------------------------------
CLASSIFICATION_RULESET_PATH = env.path(
    "CLASSIFICATION_RULESET_PATH", default=str(BASE_DIR / "classification" / "rulesets" / "default.yaml")
)

# Plain lines in development, one JSON object per line in production (LOG_FORMAT=json); every
# line carries the request id (the task's parent request id in Celery workers).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # It would log every request that arrives without an X-Request-ID.
        "django_guid": {"level": "WARNING"},
        # django-axes logs "AXES: BEGIN" (its version and the AXES_* lockout parameters above) from
        # ready() in every process: web, worker, beat and each manage.py command, five times per
        # `make run`. Its login, logout, failure and lockout lines come from axes.handlers: kept.
        "axes.apps": {"level": "WARNING"},
    },
}
# How often each process checks for a changed ruleset file or a newly activated stored ruleset.
CLASSIFICATION_RELOAD_SECONDS = env.float("CLASSIFICATION_RELOAD_SECONDS", default=10.0)
# POST /api/classify, per call: titles, characters per title (the webhook's limit for a title),
# and seconds of classifying; past any of them the call is a 400 naming the setting.
CLASSIFY_API_MAX_TITLES = env.int("CLASSIFY_API_MAX_TITLES", default=1000)
CLASSIFY_API_MAX_TITLE_LENGTH = env.int("CLASSIFY_API_MAX_TITLE_LENGTH", default=1000)
CLASSIFY_API_MAX_SECONDS = env.float("CLASSIFY_API_MAX_SECONDS", default=5.0)

# --- Month-end reports ------------------------------------------------------------------------
# How many ended months the catch-up looks back for a missing or incomplete report.
REPORTS_CATCH_UP_MONTHS = env.int("REPORTS_CATCH_UP_MONTHS", default=12)

# --- Weekly digest and Automation Anywhere ------------------------------------------------------
# "aa" calls the Control Room; "console" writes deliveries to the log and var/outbox/ instead.
DIGEST_BACKEND = env.str("DIGEST_BACKEND", default="aa")
DIGEST_CHUNK_SIZE = env.int("DIGEST_CHUNK_SIZE", default=10)
# The channels the digest goes out on; each needs its recipients (production will not start
# without them). Leave a channel out to disable it.
DIGEST_CHANNELS = env.list("DIGEST_CHANNELS", default=["email", "teams"])
DIGEST_EMAIL_TO = env.list("DIGEST_EMAIL_TO", default=[])
DIGEST_EMAIL_SUBJECT = env.str("DIGEST_EMAIL_SUBJECT", default="Senior executives detected")
DIGEST_TEAMS_WEBHOOK_URL = env.str("DIGEST_TEAMS_WEBHOOK_URL", default="")
# Teams refuses messages over 28 KB; cards are packed to stay under this many bytes.
DIGEST_TEAMS_MAX_BYTES = env.int("DIGEST_TEAMS_MAX_BYTES", default=27 * 1024)
# Link each entry to the member's community profile: {user_id} and {username} are filled in.
COMMUNITY_PROFILE_URL_TEMPLATE = env.str("COMMUNITY_PROFILE_URL_TEMPLATE", default="")
# Where operators reach this service's admin (https://captpathfinder.example.com): each digest row
# links to its correction page there. Empty: no links.
ADMIN_PUBLIC_URL = env.str("ADMIN_PUBLIC_URL", default="")
# Seconds between attempts after quick retries fail; after the last, a delivery is dead.
DIGEST_RETRY_SCHEDULE = env.list("DIGEST_RETRY_SCHEDULE", cast=int, default=[60, 300, 1800, 7200, 21600])
# A worker's claim on a delivery; past it, a crashed worker's delivery is sent again.
DIGEST_SEND_LEASE_SECONDS = env.int("DIGEST_SEND_LEASE_SECONDS", default=600)
# Real-time alerts: a detection waits this long for others to share its message (a burst is one
# alert), then goes within a minute (the every-minute run).
DIGEST_ALERT_COALESCE_SECONDS = env.int("DIGEST_ALERT_COALESCE_SECONDS", default=60)
# Every build matches each audience's filter against every candidate: these bound that work.
AUDIENCES_MAX = env.int("AUDIENCES_MAX", default=100)
AUDIENCE_COMPANIES_MAX = env.int("AUDIENCE_COMPANIES_MAX", default=1000)
# Circuit breaker: open after this many failures in a row, pause (doubling) from/to these.
DIGEST_CIRCUIT_FAILURES = env.int("DIGEST_CIRCUIT_FAILURES", default=5)
DIGEST_CIRCUIT_PAUSE_SECONDS = env.int("DIGEST_CIRCUIT_PAUSE_SECONDS", default=300)
DIGEST_CIRCUIT_MAX_PAUSE_SECONDS = env.int("DIGEST_CIRCUIT_MAX_PAUSE_SECONDS", default=3600)

AA_CONTROL_ROOM_URL = env.str("AA_CONTROL_ROOM_URL", default="")
AA_USERNAME = env.str("AA_USERNAME", default="")
AA_API_KEY = env.str("AA_API_KEY", default="")
# "v4" (botId + unattendedRequest) or "v3" (fileId + runAsUserIds), per the Control Room's version.
AA_DEPLOY_API = env.str("AA_DEPLOY_API", default="v4")
AA_EMAIL_BOT_ID = env.int("AA_EMAIL_BOT_ID", default=0)
AA_TEAMS_BOT_ID = env.int("AA_TEAMS_BOT_ID", default=0)
AA_RUN_AS_USER_IDS = env.list("AA_RUN_AS_USER_IDS", cast=int, default=[])
AA_POOL_IDS = env.list("AA_POOL_IDS", cast=int, default=[])
AA_TIMEOUT_SECONDS = env.float("AA_TIMEOUT_SECONDS", default=30.0)
# Where a bot run's outcome is read: the Activity List (v3; v2 is the deprecated one).
AA_ACTIVITY_LIST_PATH = env.str("AA_ACTIVITY_LIST_PATH", default="/v3/activity/list")
# After deploying, the first look at the new runs (later looks: every minute with the send task).
AA_RUN_FIRST_CHECK_SECONDS = env.int("AA_RUN_FIRST_CHECK_SECONDS", default=10)
# Quick retries inside one attempt, for transient errors (then the retry schedule takes over).
AA_QUICK_RETRIES = env.int("AA_QUICK_RETRIES", default=3)
AA_QUICK_RETRY_WAIT_SECONDS = env.float("AA_QUICK_RETRY_WAIT_SECONDS", default=1.0)
# The bots' input variable names.
AA_EMAIL_INPUT_RECIPIENTS = env.str("AA_EMAIL_INPUT_RECIPIENTS", default="recipients")
AA_EMAIL_INPUT_SUBJECT = env.str("AA_EMAIL_INPUT_SUBJECT", default="subject")
AA_EMAIL_INPUT_HTML = env.str("AA_EMAIL_INPUT_HTML", default="htmlBody")
AA_EMAIL_INPUT_TEXT = env.str("AA_EMAIL_INPUT_TEXT", default="textBody")
AA_TEAMS_INPUT_WEBHOOK_URL = env.str("AA_TEAMS_INPUT_WEBHOOK_URL", default="webhookUrl")
AA_TEAMS_INPUT_MESSAGE = env.str("AA_TEAMS_INPUT_MESSAGE", default="message")
