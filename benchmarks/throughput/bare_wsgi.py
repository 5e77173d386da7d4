"""The baseline endpoint: a bare Django view that does one INSERT and nothing else.

Served by the same web server, with the same settings and connection pool as the real webhook,
so the ratio between the two is the cost of what CaptPathfinder does on top.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.production")

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, body text, received_at timestamptz DEFAULT now())"
)


@csrf_exempt
def bare_insert(request):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_bare (body) VALUES (%s) RETURNING id", [request.body.decode()])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"status": "accepted", "event_id": row_id}, status=202)


urlpatterns = [path("bare", bare_insert)]


class BareHandler(WSGIHandler):
    """Django's handler with this module's one URL: the request's own urlconf, which Django resolves
    against after the middleware (a set_urlconf before the handler is undone by get_response, which
    sets ROOT_URLCONF again: every request then got the project's 404)."""

    def get_response(self, request):
        request.urlconf = __name__
        return super().get_response(request)


application = BareHandler()
