"""Production: every secret and server comes from the environment, and start-up fails without them."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403

REQUIRED_ENVIRONMENT = ("SECRET_KEY", "PII_PEPPER", "PII_VAULT_KEY", "DATABASE_URL", "REDIS_URL")
# Single sign-on is optional, but once a client id is set, a half-configured provider must not start.
OIDC_REQUIRED_ENVIRONMENT = ("OIDC_RP_CLIENT_SECRET", "OIDC_OP_ISSUER")
_required = REQUIRED_ENVIRONMENT + (OIDC_REQUIRED_ENVIRONMENT if os.environ.get("OIDC_RP_CLIENT_ID") else ())
_missing = [name for name in _required if not os.environ.get(name)]
if _missing:
    raise ImproperlyConfigured(f"production settings need these environment variables: {', '.join(_missing)}")

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
