from django.core.management.base import BaseCommand

from access.services import audit_record
from digests.models import Digest
from digests.services import build_summary, digest_build_and_send


class Command(BaseCommand):
    help = (
        "Build and send the latest Friday's digest if it was not built (what Friday 17:00 does; a built one is "
        "left as it is). --extra sends what is waiting now as an extra digest, beside Friday's."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--extra", action="store_true", help="send an extra digest now; Friday's goes out as scheduled"
        )

    def handle(self, *args, extra, **options):
        build = digest_build_and_send(Digest.Kind.EXTRA if extra else Digest.Kind.WEEKLY)
        if build.built_now:
            action = "digest.send_extra" if extra else "digest.build_weekly"
            target = build.digest or "nothing to send"
            audit_record(None, action, via="command", target=target, detections=build.detection_ids)
        self.stdout.write(build_summary(build))
