from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print the API token of a staff user, creating it if needed; --rotate replaces it (the old one stops working)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="revoke the current token and issue a new one")

    def handle(self, *args, username, rotate, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not (user.is_active and user.is_staff):
            raise CommandError(f"{username!r} is not an active staff user; the API only admits staff.")
        if rotate:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        self.stderr.write("new token" if created else "existing token (use --rotate to replace it)")
        if not (user.is_superuser or user.groups.exists() or user.user_permissions.exists()):
            self.stderr.write(
                f"note: {username!r} has no permissions yet, so every endpoint answers 403: "
                "add them to the Viewers or Operators group (admin › Users)"
            )
        self.stdout.write(token.key)
