from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """Shared infrastructure: metrics, rate limits, errors, the API's schema and paging, schedules.

    It imports none of the project's apps; they import it.
    """

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import lookups  # noqa: F401 (registers `__any` on every field)
        from .schedules import periodic_tasks_sync_after_migrate

        # The schedules are declared in code; every migrate writes them into
        # django-celery-beat's tables (sent once, for that app), so a deploy never runs stale ones.
        post_migrate.connect(periodic_tasks_sync_after_migrate, sender=apps.get_app_config("django_celery_beat"))
