"""python manage.py backfill_members --csv export.csv | --from-community [--joined-from …] [--mode …] [--dry-run]"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.rates import RateLimiter
from detections.models import BackfillRun
from detections.services import backfill
from integrations.insided.client import USER_LIST_FILTERS, CommunityClient, community_configured
from integrations.insided.errors import CommunityError

_LOG_EVERY_SECONDS = 5.0


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} {value!r}: use NAME=VALUE")
        pairs[key.strip()] = rest.strip()
    return pairs


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Progress:
    """A tqdm bar (rate, ETA) on a terminal; plain log lines every few seconds otherwise."""

    def __init__(self, command: BaseCommand, *, total: int | None, done: int, unit: str) -> None:
        self.command, self.total, self.done, self.unit = command, total, done, unit
        self.started, self.last_line, self.new = time.monotonic(), time.monotonic(), 0
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit=f" {unit}", unit_scale=True, dynamic_ncols=True)

    def __call__(self, count: int) -> None:
        self.done += count
        self.new += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.monotonic()
        if now - self.last_line >= _LOG_EVERY_SECONDS:
            self.last_line = now
            rate = self.new / max(now - self.started, 1e-9)
            left = f", about {int((self.total - self.done) / rate)} s left" if self.total and rate else ""
            self.command.stderr.write(f"backfill: {self.done:,} {self.unit} read, {rate:,.0f}/s{left}")

    def close(self) -> float:
        if self.bar is not None:
            self.bar.close()
        return self.new / max(time.monotonic() - self.started, 1e-9)


class Command(BaseCommand):
    help = (
        "Load the community's existing members through the same classification and state machine as a "
        "webhook. Resumable: run the same command again after an interruption."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", type=Path, metavar="PATH", help="a community export (UTF-8 CSV with a header)")
        source.add_argument("--from-community", action="store_true", help="page through the inSided user API")
        parser.add_argument(
            "--mode",
            choices=BackfillRun.Mode.values,
            default=BackfillRun.Mode.BASELINE,
            help="baseline: record seniors without detections (default, keeps the first digest quiet); "
            "announce: record them as first detections",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the counts by level; write nothing")
        parser.add_argument(
            "--column",
            action="append",
            default=[],
            metavar="FIELD=HEADER",
            help=f"CSV header for a field ({', '.join(backfill.CSV_FIELDS)}), e.g. --column job_title='Job Title'",
        )
        for name, param in USER_LIST_FILTERS.items():
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                type=_date,
                metavar="YYYY-MM-DD",
                help=f"only members with {param} (inclusive; the community's own filter)",
            )
        parser.add_argument("--batch-size", type=int, default=1000, help="CSV rows per transaction (default 1000)")
        parser.add_argument("--rate", type=float, default=None, help="API requests per second (default: setting)")
        parser.add_argument("--restart", action="store_true", help="abandon an unfinished run and start over")

    def handle(self, *args, **options):
        if not 1 <= options["batch_size"] <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000")
        try:
            if options["csv"]:
                counts, rate = self._from_csv(options)
            else:
                counts, rate = self._from_community(options)
        except backfill.BackfillSourceError as exc:
            raise CommandError(str(exc)) from None
        except CommunityError as exc:
            raise CommandError(f"the community API failed: {exc}; run the same command again to resume") from None
        except KeyboardInterrupt:
            raise CommandError("interrupted; run the same command again to resume") from None
        self._summary(counts, rate, options)

    def _from_csv(self, options):
        path: Path = options["csv"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        columns = backfill.csv_columns(_pairs(options["column"], "--column"))
        total = backfill.csv_count_rows(path)
        if options["dry_run"]:
            return self._dry(backfill.csv_items(path, columns=columns), total, "rows")
        run = self._run_for(BackfillRun.Source.CSV, backfill.csv_source_key(path), options, "row")
        items = backfill.csv_items(path, columns=columns, skip=run.position)
        batches = backfill.csv_batches(items, start=run.position, batch_size=options["batch_size"])
        return self._apply(run, batches, Progress(self, total=total, done=run.position, unit="rows"))

    def _from_community(self, options):
        if not community_configured():
            raise CommandError("set COMMUNITY_API_URL, COMMUNITY_CLIENT_ID and COMMUNITY_CLIENT_SECRET first")
        filters = {param: options[name].isoformat() for name, param in USER_LIST_FILTERS.items() if options[name]}
        per_second = options["rate"] or settings.COMMUNITY_BACKFILL_REQUESTS_PER_SECOND
        page_size = settings.COMMUNITY_USERS_PAGE_SIZE
        client = CommunityClient(limiter=RateLimiter(per_second))

        def pages(start_page: int):
            return backfill.community_pages(client, filters=filters, start_page=start_page, page_size=page_size)

        if options["dry_run"]:
            return self._dry((item for _, items in pages(1) for item in items), None, "members")
        run = self._run_for(BackfillRun.Source.COMMUNITY, backfill.community_source_key(filters), options, "page")
        progress = Progress(self, total=None, done=run.counts.get("read", 0), unit="members")
        return self._apply(run, pages(run.position + 1), progress)

    def _run_for(self, source: str, source_key: str, options, unit: str) -> BackfillRun:
        run, resumed = backfill.run_for(
            source=source, source_key=source_key, mode=options["mode"], restart=options["restart"]
        )
        if resumed:
            self.stderr.write(f"resuming backfill {run.pk} after {unit} {run.position:,}")
        return run

    def _apply(self, run: BackfillRun, batches, progress: Progress) -> tuple[dict, float]:
        try:
            run = backfill.backfill_run(run=run, batches=batches, on_progress=progress)
        finally:
            rate = progress.close()
        return run.counts, rate

    def _dry(self, items, total, unit):
        progress = Progress(self, total=total, done=0, unit=unit)
        counts = backfill.dry_run_counts(_counting(items, progress))
        return dict(counts), progress.close()

    def _summary(self, counts: dict, rate: float, options) -> None:
        def n(key: str) -> int:
            return counts.get(key, 0)

        prefix = "dry run (nothing written): " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}read {n('read'):,}; senior {n('csuite') + n('vp'):,} (C-suite {n('csuite'):,}, VP {n('vp'):,}); "
            f"not senior {n('not_senior'):,}; skipped {n('skipped'):,}; errors {n('errors'):,}; {rate:,.0f} per second"
        )
        if not options["dry_run"]:
            changed = n("updated") + n("promoted")
            self.stdout.write(
                f"members created {n('created'):,}, updated {changed:,}, removed {n('removed'):,}; "
                f"detections recorded {n('detections'):,} ({options['mode']} mode)"
            )


def _counting(items, progress):
    for item in items:
        progress(1)
        yield item
