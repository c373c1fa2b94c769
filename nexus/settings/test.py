"""The test suite: real PostgreSQL and Redis (embedded unless configured), fast hashing, isolated Redis databases."""

from .base import *  # noqa: F403
from .base import REDIS_URL, redis_db_url

SECRET_KEY = "test-secret-key"  # noqa: S105 - tests only
PII_PEPPER = "test-pii-pepper"
PII_VAULT_KEY = "test-pii-vault-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
# Serve from the finders only; collectstatic is a production step.
WHITENOISE_AUTOREFRESH = True
LANGUAGE_CODE = "en"

# Other logical databases than a running `make run`, so tests never touch its queues or cache.
REDIS_DATABASES = {"celery": 10, "cache": 11, "channels": 12, "quota": 13}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_db_url(REDIS_URL, REDIS_DATABASES["cache"]),
        "KEY_PREFIX": "nexus-test",
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_db_url(REDIS_URL, REDIS_DATABASES["channels"])], "prefix": "nexus-test"},
    }
}
CELERY_BROKER_URL = redis_db_url(REDIS_URL, REDIS_DATABASES["celery"])
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
