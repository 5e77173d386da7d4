from django.core.management.base import BaseCommand

from digests.services import deliveries_make_due, deliveries_resend, deliveries_send_due


class Command(BaseCommand):
    help = (
        "Send due digest deliveries in this process. --now sends waiting retries too; --resend-dead revives dead ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="make pending and retrying deliveries due now")
        parser.add_argument("--resend-dead", action="store_true", help="give dead deliveries a fresh start")

    def handle(self, *args, now, resend_dead, **options):
        if resend_dead:
            self.stdout.write(f"{deliveries_resend()} dead deliveries queued again")
        if now:
            deliveries_make_due()
        report = deliveries_send_due()
        self.stdout.write(f"sent {len(report.sent)}, failed {len(report.failed)} (will retry), dead {len(report.dead)}")
