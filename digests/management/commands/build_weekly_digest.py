from django.core.management.base import BaseCommand

from digests.services import digest_build_and_send


class Command(BaseCommand):
    help = "Build this week's digest now and send it (what Friday 17:00 does); a built week is left as it is."

    def handle(self, *args, **options):
        digest = digest_build_and_send()
        self.stdout.write(
            f"{digest}: {digest.detection_count} detections in {digest.chunk_count} chunks, "
            f"{digest.deliveries.count()} deliveries"
        )
