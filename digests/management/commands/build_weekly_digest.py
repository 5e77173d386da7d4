from django.core.management.base import BaseCommand
from django.utils import timezone

from digests.models import Digest
from digests.selectors import detections_waiting
from digests.services import build_summary, digest_build_and_send


class Command(BaseCommand):
    help = (
        "Build and send the latest Friday's digests, one per weekly audience, where not built (what Friday 17:00 "
        "does; a built one is left as it is). --extra sends each weekly audience what it has not received as an "
        "extra digest, beside Friday's."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--extra", action="store_true", help="send an extra digest now; Friday's goes out as scheduled"
        )

    def handle(self, *args, extra, **options):
        build = digest_build_and_send(Digest.Kind.EXTRA if extra else Digest.Kind.WEEKLY, user=None, via="command")
        self.stdout.write(build_summary(build, waiting=len(detections_waiting(now=timezone.now()))))
