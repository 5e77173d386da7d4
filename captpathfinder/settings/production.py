"""Production settings: granian and the docker-compose services use these.

Secrets have no defaults here and unsafe combinations stop the process at import time,
so a bad deploy fails at start instead of serving with a guessable key or an open webhook.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
env.str("DATABASE_URL")  # no embedded default in production: the service's own PostgreSQL

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("SECRET_KEY must be a long random value (50+ characters).")

_CHANNEL_RECIPIENTS = {"email": "DIGEST_EMAIL_TO", "teams": "DIGEST_TEAMS_WEBHOOK_URL"}
for _channel in DIGEST_CHANNELS:  # noqa: F405
    if _channel not in _CHANNEL_RECIPIENTS:
        raise ImproperlyConfigured(f"DIGEST_CHANNELS: unknown channel {_channel!r} (known: email, teams).")
    _recipients = globals()[_CHANNEL_RECIPIENTS[_channel]]
    if not (any(r.strip() for r in _recipients) if isinstance(_recipients, list) else _recipients.strip()):
        raise ImproperlyConfigured(
            f"{_CHANNEL_RECIPIENTS[_channel]} is empty but the {_channel} digest is enabled: set it, or leave "
            f"{_channel} out of DIGEST_CHANNELS to disable that channel."
        )

# A weak webhook password admits anyone who guesses it to write member data.
_webhook_password = WEBHOOK_BASIC_AUTH_PASSWORD  # noqa: F405
_classes = sum(
    any(test(c) for c in _webhook_password)
    for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
)
if _webhook_password and not (len(_webhook_password) >= 32 or (len(_webhook_password) >= 20 and _classes >= 3)):
    raise ImproperlyConfigured(
        "WEBHOOK_BASIC_AUTH_PASSWORD is weak: use 32+ random characters, or 20+ with at least three of lower case, "
        "upper case, digits and symbols (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')."
    )

# X-Forwarded-Proto says the request came over HTTPS only when a trusted proxy set it: with
# NUM_PROXIES 0 (the service reached directly) any client could send it and pass the redirect.
if REST_FRAMEWORK["NUM_PROXIES"] > 0:  # noqa: F405
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}  # noqa: F405
