"""python manage.py community_sync [--dry-run]: the community's role and badge holders made to match
the senior members."""

from __future__ import annotations

import requests
from django.core.management.base import BaseCommand, CommandError

from detections.services import writeback
from integrations.insided.errors import CommunityError

_SHOWN = 50  # user ids listed per line before "… and N more"


class Command(BaseCommand):
    help = (
        "Compare who holds the write-back role and badge in the community with the senior members, "
        "then give and take them to match (--dry-run: only print the drift)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the drift; change nothing.")

    def handle(self, *args, dry_run: bool, **options):
        try:
            report = writeback.community_sync(dry_run=dry_run, user=None, via="command")
        except writeback.WritebackNotConfigured as exc:
            raise CommandError(str(exc)) from None
        except (CommunityError, requests.RequestException) as exc:
            raise CommandError(f"the community could not be read: {exc}") from None
        for drift in report.drift:
            left = (
                f"; {len(drift.left_alone)} not senior but not given by the write-back, left alone "
                f"({_ids(drift.left_alone)})"
                if drift.left_alone
                else ""
            )
            self.stdout.write(
                f"{drift.target}: {len(drift.give)} to give ({_ids(drift.give)}), "
                f"{len(drift.take)} to take away ({_ids(drift.take)}){left}"
            )
        if dry_run:
            self.stdout.write("Dry run: nothing changed.")
            return
        for grant in report.outcomes:
            what = grant.outcome_text if grant.status == grant.Status.DONE else f"{grant.status}: {grant.outcome_text}"
            self.stdout.write(f"  {grant.change_text} — user {grant.user_id}: {what}")
        done = sum(g.status == g.Status.DONE for g in report.outcomes)
        failed = sum(g.status == g.Status.FAILED for g in report.outcomes)
        waiting = len(report.outcomes) - done - failed
        self.stdout.write(f"Changed {done}; failed {failed}; waiting for a retry {waiting}.")
        if failed or waiting:
            raise CommandError("not every difference was written: see admin › Community write-back changes")


def _ids(user_ids: list[str]) -> str:
    if not user_ids:
        return "none"
    shown = ", ".join(user_ids[:_SHOWN])
    return shown if len(user_ids) <= _SHOWN else f"{shown} … and {len(user_ids) - _SHOWN} more"
