import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

PASSWORD_FILE = settings.VAR_DIR / "admin-password.txt"


class Command(BaseCommand):
    help = "Development only: make sure an admin login exists and print where and how to log in."

    def handle(self, *args, **options):
        port = os.environ.get("WEB_PORT", "8000")
        url = f"http://127.0.0.1:{port}/admin/"
        User = get_user_model()
        if not settings.DEBUG:
            self.stdout.write(f"Admin: {url} (create a login with: python manage.py createsuperuser)")
            return
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@localhost", password)
            PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
            PASSWORD_FILE.write_text(password + "\n")
            PASSWORD_FILE.chmod(0o600)
        shown = PASSWORD_FILE.read_text().strip() if PASSWORD_FILE.exists() else None
        shown = shown or "(reset it with: python manage.py changepassword admin)"
        self.stdout.write(self.style.SUCCESS(f"Admin: {url}  user: admin  password: {shown}"))
        self.stdout.write(f"Webhook: POST http://127.0.0.1:{port}/webhooks/community")
