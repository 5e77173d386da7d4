import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from access.services import audit_record
from digests.models import DigestDelivery
from digests.runs import advance_summary, deliveries_advance
from digests.services import deliveries_make_due, deliveries_resend

_WAIT_STEP = timedelta(seconds=5)


class Command(BaseCommand):
    help = (
        "Send due digest deliveries in this process, and read how deployed bot runs ended. --now sends waiting "
        "retries too; --resend-dead revives dead ones; --wait follows the bot runs until they finish."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="make pending and retrying deliveries due now")
        parser.add_argument("--resend-dead", action="store_true", help="give dead deliveries a fresh start")
        parser.add_argument(
            "--wait", type=int, default=0, metavar="SECONDS", help="follow the bot runs for up to this long"
        )

    def handle(self, *args, now, resend_dead, wait, **options):
        if not 0 <= wait <= 3600:
            raise CommandError("--wait must be between 0 and 3600 seconds")
        if resend_dead:
            resent = deliveries_resend()
            audit_record(None, "delivery.resend", via="command", target=f"{resent} dead deliveries")
            self.stdout.write(f"{resent} dead deliveries queued again")
        if now:
            due = deliveries_make_due()
            audit_record(None, "delivery.send_now", via="command", target=f"{due} deliveries")
        self.stdout.write(advance_summary(*deliveries_advance()))
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline and self._unfinished():
            time.sleep(min(_WAIT_STEP.total_seconds(), max(deadline - time.monotonic(), 0)))
            self.stdout.write(advance_summary(*deliveries_advance(check_every=timedelta(0))))

    @staticmethod
    def _unfinished() -> bool:
        return DigestDelivery.objects.filter(status=DigestDelivery.Status.DEPLOYED).exists()
