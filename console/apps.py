from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The screens that span the apps: the admin's health panel, /api/stats, /health, the gauges."""

    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from core.metrics import collector_register

        from .metrics import DatabaseCollector

        collector_register(DatabaseCollector())
