"""A developer's or evaluator's machine: embedded servers, debug on, demo-friendly defaults."""

from .base import *  # noqa: F403
from .base import PII_PEPPER, PII_VAULT_KEY, SECRET_KEY, env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = SECRET_KEY or "local-only-secret-key-not-for-production"
PII_PEPPER = PII_PEPPER or "local-only-pii-pepper"
PII_VAULT_KEY = PII_VAULT_KEY or "local-only-pii-vault-key"
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
