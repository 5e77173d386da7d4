from django.apps import AppConfig


class DetectionsConfig(AppConfig):
    name = "detections"
    verbose_name = "Detections"

    def ready(self) -> None:
        from .authentication import webhook_auth_assert_configured

        webhook_auth_assert_configured()
