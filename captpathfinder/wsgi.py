import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.local")

django_application = get_wsgi_application()

from detections.wsgi import WebhookFastLane  # noqa: E402  (needs the apps loaded above)

# inSided's usual delivery is answered ahead of Django's handler; everything else goes to it.
application = WebhookFastLane(django_application)
