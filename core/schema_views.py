"""The schema and its browsable UIs at /api/schema/, /api/docs/ and /api/redoc/ (any staff user).

Apart from core.schema: these views are APIViews, and importing them while DRF
loads the schema class named in settings would be circular.
"""

from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer


class _JSONErrors:
    """Errors (401, 403, 429) as the API's JSON, not in the schema's YAML or the UI's HTML."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class _LoginFirst(_JSONErrors):
    """The documentation pages are opened in a browser: one not logged in goes to the admin's
    login and comes back (other errors stay JSON)."""

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path(), login_url=reverse("admin:login"))
        return super().handle_exception(exc)


class SchemaView(_JSONErrors, SpectacularAPIView):
    required_permissions = ()  # staff: the schema describes the API, it reads no data


class SwaggerView(_LoginFirst, SpectacularSwaggerView):
    required_permissions = ()


class RedocView(_LoginFirst, SpectacularRedocView):
    required_permissions = ()
