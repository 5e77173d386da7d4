"""The schema and its browsable UIs at /api/schema/, /api/docs/ and /api/redoc/ (staff only).

Apart from core.schema: these views are APIViews, and importing them while DRF
loads the schema class named in settings would be circular.
"""

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer


class _JSONErrors:
    """Errors (401, 403, 429) as the API's JSON, not in the schema's YAML or the UI's HTML."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(_JSONErrors, SpectacularAPIView):
    pass


class SwaggerView(_JSONErrors, SpectacularSwaggerView):
    pass


class RedocView(_JSONErrors, SpectacularRedocView):
    pass
