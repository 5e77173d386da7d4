"""Settings for pytest: the real PostgreSQL and Redis that `make test` starts."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

if not (env.str("DATABASE_URL", default="") and env.str("CELERY_BROKER_URL", default="")):
    raise ImproperlyConfigured(
        "The test suite runs against its own PostgreSQL and Redis: use `make test`, which starts "
        "throwaway servers, or set DATABASE_URL and CELERY_BROKER_URL yourself."
    )

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="test-only-secret-key-not-for-production-0123456789abcdef")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WEBHOOK_BASIC_AUTH_USERNAME = "insided"
WEBHOOK_BASIC_AUTH_PASSWORD = "test-basic-password"
WEBHOOK_SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
