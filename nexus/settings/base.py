"""Settings shared by every environment.

Values come from the environment. Local and test settings fall back to the
embedded servers (``nexus.embedded``); production refuses to start without its
secrets (``nexus.settings.production``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from nexus import embedded

# Lets admin and other generic classes be subscripted at run time, as the type stubs expect.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def redis_db_url(base_url: str, db: int) -> str:
    """The same Redis server as ``base_url``, another logical database."""
    head, _sep, _tail = base_url.rstrip("/").partition("://")
    host = _tail.split("/", 1)[0]
    return f"{head}://{host}/{db}"


SECRET_KEY = os.environ.get("SECRET_KEY", "")
PII_PEPPER = os.environ.get("PII_PEPPER", "")
# Encrypts the clear values behind the PII tokens (apps.privacy.vault); losing it loses every unlock.
PII_VAULT_KEY = os.environ.get("PII_VAULT_KEY", "")
# How long an audited unlock shows an object's personal data, and how long the disclosure records are kept.
PII_UNLOCK_DURATION = timedelta(minutes=int(os.environ.get("PII_UNLOCK_MINUTES", "15")))
PII_DISCLOSURE_RETENTION_DAYS = int(os.environ.get("PII_DISCLOSURE_RETENTION_DAYS", "730"))
# The billing tier (apps.accounts.models.Tier slug) a newly created organisation starts on.
BILLING_DEFAULT_TIER = os.environ.get("BILLING_DEFAULT_TIER", "free")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where users reach the product: links that leave it (e-mail) are made absolute with it.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "guardian",
    "mozilla_django_oidc",
    "auditlog",
    "django_htmx",
    "apps.core",
    "apps.accounts",
    "apps.privacy",
    "apps.datasets",
    "apps.entities",
    "apps.anomalies",
    "apps.search",
    "apps.cases",
    "apps.insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "apps.accounts.middleware.TierQuotaMiddleware",
]

ROOT_URLCONF = "nexus.urls"
ASGI_APPLICATION = "nexus.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.navigation",
                "apps.core.context_processors.language_switcher",
            ],
        },
    },
]

# Connections are kept between requests and checked before reuse: opening one costs more than many searches'
# queries. Under ASGI (nexus/asgi.py) Django runs each request's views on a thread of its own, and connections
# belong to threads, so a kept connection is never used again there: measured, about three connections were opened
# per API request. Web processes therefore take their connections from a pool of DATABASE_POOL_SIZE (`manage.py
# run` sets it for the Daphne processes it starts; Celery's forked workers must not inherit a pool's threads).
DATABASES = {
    "default": dj_database_url.parse(
        embedded.database_url(),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
# A database host that drops packets must fail /healthz and requests quickly rather than hang them.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))
DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "0"))
if DATABASE_POOL_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = embedded.redis_url()
REDIS_DATABASES = {"celery": 0, "cache": 1, "channels": 2, "quota": 3}

# Search (apps.search): PostgreSQL full-text is always on; OpenSearch replaces it for records when its URL is set.
# Qdrant runs embedded (local mode, data under the var dir) unless QDRANT_URL names a server.
OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL", "")
OPENSEARCH_INDEX_PREFIX = os.environ.get("OPENSEARCH_INDEX_PREFIX", "nexus")
QDRANT_URL = os.environ.get("QDRANT_URL", "")
QDRANT_API_KEY = os.environ.get("QDRANT_API_KEY", "")
QDRANT_PATH = os.environ.get("QDRANT_PATH", str(embedded.VAR_DIR / "qdrant"))
QDRANT_COLLECTION = os.environ.get("QDRANT_COLLECTION", "nexus_texts")
# The embedder of the semantic search: a dotted path to a class of apps.search.embedders' interface.
SEARCH_EMBEDDER = os.environ.get("SEARCH_EMBEDDER", "apps.search.embedders.MultilingualE5Embedder")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_db_url(REDIS_URL, REDIS_DATABASES["cache"]),
        "KEY_PREFIX": "nexus",
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_db_url(REDIS_URL, REDIS_DATABASES["channels"])], "prefix": "nexus"},
    }
}

# Celery, configured from Django settings under the CELERY namespace (nexus/celery.py).
CELERY_BROKER_URL = redis_db_url(REDIS_URL, REDIS_DATABASES["celery"])
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEALTH_CHECK_INTERVAL_SECONDS = int(os.environ.get("HEALTH_CHECK_INTERVAL_SECONDS", "30"))
# A worker counts as alive while its last health check is younger than this.
HEALTH_WORKER_STALE_SECONDS = HEALTH_CHECK_INTERVAL_SECONDS * 3
CELERY_BEAT_SCHEDULE = {
    # Nightly: every organisation's risk model retrained (deployed only if better), all detectors re-run.
    "anomalies-nightly": {
        "task": "apps.anomalies.tasks.anomalies_schedule_all",
        "schedule": crontab(minute=40, hour=2),
    },
    "core-health-check": {
        "task": "apps.core.tasks.health_check",
        "schedule": HEALTH_CHECK_INTERVAL_SECONDS,
    },
    "core-prune-health-checks": {
        "task": "apps.core.tasks.prune_health_checks",
        "schedule": crontab(minute=17, hour=3),
    },
    # The post-load hook re-runs saved searches at once; this catches runs it missed (a worker restart).
    "search-saved-rerun": {
        "task": "apps.search.tasks.search_saved_rerun_due",
        "schedule": crontab(minute="*/15"),
    },
    "cases-due-reminders": {
        "task": "apps.cases.tasks.case_due_reminders",
        "schedule": crontab(minute=5),
    },
    "cases-prune-exports": {
        "task": "apps.cases.tasks.case_exports_prune",
        "schedule": crontab(minute=41, hour=3),
    },
    "privacy-purge-disclosures": {
        "task": "apps.privacy.tasks.purge_disclosures",
        "schedule": crontab(minute=41, hour=3),
    },
}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "apps.accounts.oidc.KeycloakOIDCBackend",
    "guardian.backends.ObjectPermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Keycloak single sign-on (OpenID Connect). Disabled until OIDC_RP_CLIENT_ID is set.
OIDC_ENABLED = bool(os.environ.get("OIDC_RP_CLIENT_ID"))
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get(
    "OIDC_OP_AUTHORIZATION_ENDPOINT", f"{OIDC_OP_ISSUER}/protocol/openid-connect/auth"
)
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", f"{OIDC_OP_ISSUER}/protocol/openid-connect/token")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", f"{OIDC_OP_ISSUER}/protocol/openid-connect/userinfo")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", f"{OIDC_OP_ISSUER}/protocol/openid-connect/certs")
OIDC_OP_LOGOUT_ENDPOINT = os.environ.get("OIDC_OP_LOGOUT_ENDPOINT", f"{OIDC_OP_ISSUER}/protocol/openid-connect/logout")
OIDC_OP_LOGOUT_URL_METHOD = "apps.accounts.oidc.provider_logout_url"
OIDC_STORE_ID_TOKEN = True
OIDC_USE_PKCE = True
# Seconds to wait for the provider; without it a hung provider hangs the worker serving the request.
OIDC_TIMEOUT = 10
OIDC_CALLBACK_CLASS = "apps.accounts.oidc.KeycloakCallbackView"
# How Keycloak's roles and organisation claim map onto Nexus roles and organisations.
OIDC_ROLE_MAP = {
    "investigator": os.environ.get("OIDC_ROLE_INVESTIGATOR", "nexus-investigator"),
    "supervisor": os.environ.get("OIDC_ROLE_SUPERVISOR", "nexus-supervisor"),
    "admin": os.environ.get("OIDC_ROLE_ADMIN", "nexus-admin"),
    "partner": os.environ.get("OIDC_ROLE_PARTNER", "nexus-partner"),
}
OIDC_ORGANIZATION_CLAIM = os.environ.get("OIDC_ORGANIZATION_CLAIM", "organization")

REST_FRAMEWORK = {
    # The first class names the WWW-Authenticate challenge of a 401, so partners are told to send an API key.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.api.authentication.ApiKeyAuthentication",
        "apps.accounts.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.api.permissions.OrganizationMemberPermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exceptions.exception_handler",
    # The billing tier's gate: API access, requests a minute and queries a day (apps.accounts.api.throttles).
    "DEFAULT_THROTTLE_CLASSES": ["apps.accounts.api.throttles.TierThrottle"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Nexus Core API",
    "DESCRIPTION": "Partner API of Nexus Core. Every endpoint is scoped to the caller's organisation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No online validator badge: the docs must work offline and not tell a third party where our schema lives.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},
    # Tags and operation ids come from the path after the version: "organizations", not "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets used by several fields get one readable name instead of a hash.
    "ENUM_NAME_OVERRIDES": {
        "RecordKindEnum": "apps.datasets.models.RecordKind",
        "DatasetStatusEnum": "apps.datasets.models.DatasetStatus",
        "EntityKindEnum": "apps.entities.models.EntityKind",
        "RelationshipKindEnum": "apps.entities.models.RelationshipKind",
        "MatchKindEnum": "apps.entities.models.ScorerKind",
        "MatchCandidateStatusEnum": "apps.entities.models.MatchCandidate.Status",
        "CaseStatusEnum": "apps.cases.models.CaseStatus",
        "CasePriorityEnum": "apps.cases.models.CasePriority",
        "ClosureClassificationEnum": "apps.cases.models.ClosureClassification",
    },
}

GUARDIAN_RAISE_403 = True
ANONYMOUS_USER_NAME = None

AUDITLOG_INCLUDE_ALL_MODELS = False

LANGUAGE_CODE = "uk"
LANGUAGES = [("uk", _("Ukrainian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Kyiv"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"

# Error reports (debug page, admin e-mails) mask personal data and hide the PII pepper.
DEFAULT_EXCEPTION_REPORTER_FILTER = "apps.privacy.log_masking.PIIExceptionReporterFilter"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Personal data that reaches a log line (a typed tax number, a row that failed) is masked before it is written.
    "filters": {"mask_pii": {"()": "apps.privacy.log_masking.PIILogFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_pii"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
