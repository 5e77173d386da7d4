from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports.months import Month
from reports.services import report_generate_month, reports_catch_up


class Command(BaseCommand):
    help = "Generate (or regenerate) a month's report in this process. Default: the last complete month."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM, in America/New_York")
        parser.add_argument("--catch-up", action="store_true", help="generate every ended month that lacks one")

    def handle(self, *args, month, catch_up, **options):
        if catch_up:
            for report in reports_catch_up():
                self._print(report)
            return
        try:
            chosen = Month.parse(month) if month else Month.of(timezone.now()).previous()
            report = report_generate_month(month=chosen, user=None, via="command")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self._print(report)

    def _print(self, report):
        summary = report.summary
        members = summary["senior_members"]
        self.stdout.write(
            f"{report}: {report.detection_count} detections "
            f"({summary['detections']['by_kind']['first']} first, {summary['detections']['by_kind']['promotion']} "
            f"promotions); {members['total']} senior members ({members['csuite']} C-suite, {members['vp']} VP)\n"
            f"  CSV:  {report.csv_file.name}\n  HTML: {report.html_file.name}"
        )
