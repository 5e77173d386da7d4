"""Development settings: what `make run` and a bare `manage.py` use.

DEBUG is on unless the environment says otherwise, so the service starts with no webhook
authentication configured and a throwaway secret key.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-development-only")
DIGEST_BACKEND = env.str("DIGEST_BACKEND", default="console")
# Where the console backend says a development digest would have gone (written to var/outbox/).
DIGEST_EMAIL_TO = env.list("DIGEST_EMAIL_TO", default=["operators@example.com"])
DIGEST_TEAMS_WEBHOOK_URL = env.str("DIGEST_TEAMS_WEBHOOK_URL", default="https://example.com/teams-workflow-webhook")
