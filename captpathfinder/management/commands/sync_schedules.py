from django.core.management.base import BaseCommand

from captpathfinder.schedules import periodic_tasks_sync


class Command(BaseCommand):
    help = "Write the periodic tasks declared in captpathfinder/schedules.py into django-celery-beat."

    def handle(self, *args, **options):
        for name in periodic_tasks_sync():
            self.stdout.write(f"synced: {name}")
