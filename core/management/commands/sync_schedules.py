from django.core.management.base import BaseCommand

from core.schedules import periodic_tasks_sync


class Command(BaseCommand):
    help = "Write the periodic tasks declared in core/schedules.py into django-celery-beat."

    def handle(self, *args, **options):
        for name in periodic_tasks_sync():
            self.stdout.write(f"synced: {name}")
