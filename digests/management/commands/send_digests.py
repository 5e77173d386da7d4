import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from digests.models import DigestDelivery
from digests.services import (
    deliveries_make_due,
    deliveries_resend,
    deliveries_runs_check_and_send,
    runs_check_and_send_summary,
)

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
            resent = deliveries_resend(user=None, via="command")
            self.stdout.write(f"{resent} dead deliveries queued again")
        if now:
            deliveries_make_due(user=None, via="command")
        self.stdout.write(runs_check_and_send_summary(*deliveries_runs_check_and_send()))
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline and self._unfinished():
            time.sleep(min(_WAIT_STEP.total_seconds(), max(deadline - time.monotonic(), 0)))
            self.stdout.write(runs_check_and_send_summary(*deliveries_runs_check_and_send(check_every=timedelta(0))))

    @staticmethod
    def _unfinished() -> bool:
        return DigestDelivery.objects.filter(status=DigestDelivery.Status.DEPLOYED).exists()
