from django.apps import AppConfig


class DetectionsConfig(AppConfig):
    name = "detections"
    verbose_name = "Detections"

    def ready(self) -> None:
        from . import schema  # noqa: F401 (registers the OpenAPI description of webhook auth)
        from .authentication import webhook_auth_assert_configured

        webhook_auth_assert_configured()
