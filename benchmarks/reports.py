"""Month-end report generation: time and peak memory for 100,000 detections in a month.

    make bench-reports      (starts throwaway PostgreSQL and Redis, like make test)

Seeds October 2026 with N detections (SQL generate_series, so seeding costs the measuring
process nothing), then, each in a fresh process so peak memory (VmHWM) belongs to that
run alone:
  - baseline: psycopg streaming the same rows with COPY ... TO STDOUT (CSV) into a file —
    the floor for reading the month out of PostgreSQL;
  - idle: a process that loads Django and does nothing, so the report's own memory shows;
  - the report: reports.services.report_generate_month (summary, CSV and HTML, stored).
It runs at 10,000 and at 100,000 detections: flat memory means the same peak for both.
Targets: under 10 s and under 200 MB peak for 100,000 detections.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

SIZES = [10_000, 100_000]
MONTH = "2026-10"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.test")
    import django

    django.setup()


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    from the parent across fork and exec, so it would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def seed(count: int) -> None:
    """Replace all detections with `count` spread over October 2026 (New York)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE detections_detection, detections_seniormember, reports_report CASCADE")
        cursor.execute(
            """
            INSERT INTO detections_detection
              (user_id, username, title, level, country, company, joined_at, kind, detected_at, rules_version)
            SELECT i::text,
                   'Member ' || i || CASE WHEN i %% 97 = 0 THEN ' <b>&amp;</b>' ELSE '' END,
                   CASE WHEN i %% 3 = 0 THEN 'Chief Financial Officer' ELSE 'VP of Sales, EMEA' END,
                   CASE WHEN i %% 3 = 0 THEN 'csuite' ELSE 'vp' END,
                   (ARRAY['United States','Germany','France','Brazil','Japan','India','',
                          'Canada','Spain','Italy'])[1 + i %% 10],
                   CASE WHEN i %% 11 = 0 THEN '' ELSE 'Company ' || (i %% 5000) END,
                   TIMESTAMPTZ '2020-01-01 00:00:00+00' + (i %% 2000) * INTERVAL '1 day',
                   CASE WHEN i %% 10 = 0 THEN 'promotion' ELSE 'first' END,
                   TIMESTAMPTZ '2026-10-01 04:00:00+00' + (i * (2678399.0 / %s)) * INTERVAL '1 second',
                   'bench'
            FROM generate_series(1, %s) AS i
            """,
            [count, count],
        )
        cursor.execute(
            """
            INSERT INTO detections_seniormember
              (user_id, username, title, level, country, company, first_detected_at, last_seen_at,
               rules_version, enrichment_error)
            SELECT i::text, 'Member ' || i, 'VP of Sales', CASE WHEN i %% 3 = 0 THEN 'csuite' ELSE 'vp' END,
                   '', '', TIMESTAMPTZ '2026-10-02 00:00:00+00', now(), 'bench', ''
            FROM generate_series(1, %s) AS i
            """,
            [count // 4],
        )
        cursor.execute("ANALYZE detections_detection")


def run_baseline(path: str) -> dict:
    """COPY the month's rows to a CSV file with psycopg alone: no Django, no rendering."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn, open(path, "wb") as out:
        query = (
            "COPY (SELECT user_id, username, title, level, kind, company, country, joined_at, detected_at "
            "FROM detections_detection WHERE detected_at >= '2026-10-01 04:00+00' AND detected_at < "
            "'2026-11-01 04:00+00' ORDER BY detected_at, id) TO STDOUT WITH (FORMAT csv, HEADER)"
        )
        with conn.cursor().copy(query) as copy:
            for block in copy:
                out.write(block)
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def run_idle() -> dict:
    django_setup()
    from django.db import connection

    connection.ensure_connection()
    return {"seconds": 0.0, "peak_mb": peak_mb()}


def run_report() -> dict:
    django_setup()
    from django.conf import settings

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-media-")
    from reports.months import Month
    from reports.services import report_generate_month

    started = time.perf_counter()
    report = report_generate_month(month=Month.parse(MONTH))
    seconds = time.perf_counter() - started
    sizes = [os.path.getsize(os.path.join(settings.MEDIA_ROOT, f.name)) for f in (report.csv_file, report.html_file)]
    return {"seconds": seconds, "peak_mb": peak_mb(), "rows": report.detection_count, "bytes": sizes}


def in_subprocess(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.reports", "--run", mode], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"machine: {os.cpu_count()} cores; PostgreSQL via DATABASE_URL; month {MONTH}")
    print(f"{'detections':>10}  {'what':<42} {'seconds':>8} {'peak MB':>8}")
    for count in SIZES:
        seed(count)
        with tempfile.NamedTemporaryFile(suffix=".csv") as target:
            baseline = in_subprocess(f"baseline:{target.name}")
        idle = in_subprocess("idle")
        report = in_subprocess("report")
        assert report["rows"] == count, report
        print(
            f"{count:>10,}  {'baseline: psycopg COPY ... TO STDOUT to a file':<42} {baseline['seconds']:>8.2f} "
            f"{baseline['peak_mb']:>8.0f}"
        )
        print(f"{count:>10,}  {'idle Django process (no work)':<42} {'':>8} {idle['peak_mb']:>8.0f}")
        csv_mb, html_mb = (size / 2**20 for size in report["bytes"])
        print(
            f"{count:>10,}  {'report: summary + CSV + HTML, stored':<42} {report['seconds']:>8.2f} "
            f"{report['peak_mb']:>8.0f}   ({report['seconds'] / baseline['seconds']:.1f}x baseline time; "
            f"+{report['peak_mb'] - idle['peak_mb']:.0f} MB over idle; CSV {csv_mb:.1f} MB, HTML {html_mb:.1f} MB)"
        )
    print("targets for 100,000 detections: < 10 s and < 200 MB peak")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        mode = sys.argv[2]
        if mode.startswith("baseline:"):
            result = run_baseline(mode.split(":", 1)[1])
        else:
            result = {"idle": run_idle, "report": run_report}[mode]()
        print(json.dumps(result))
    else:
        main()
