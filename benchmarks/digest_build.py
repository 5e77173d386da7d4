"""Building the weekly digest for 10,000 pending detections: time, against a baseline.

    make bench-digest      (starts throwaway PostgreSQL and Redis, like make test)

Seeds 10,000 undigested detections (SQL generate_series), then in a fresh process times
`digests.services.digest_build_weekly()` — lock, read the members, one row each, render every chunk for email (Django
templates) and Teams (Adaptive Cards, sized under 28 KB), create the deliveries, link every
detection — against a baseline in the same run: one SQL UPDATE linking the same rows to a digest.
Target: <= 2 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

COUNT = 10_000


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.test")
    import django

    django.setup()


def seed() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE detections_detection, detections_seniormember, digests_digestdelivery, digests_digest CASCADE"
        )
        cursor.execute(
            """
            INSERT INTO detections_detection
              (user_id, username, title, level, country, company, kind, detected_at, rules_version)
            SELECT i::text, 'Member ' || i || CASE WHEN i %% 50 = 0 THEN ' <script>x</script>' ELSE '' END,
                   CASE WHEN i %% 3 = 0 THEN 'Chief Financial Officer' ELSE 'VP of Sales, EMEA' END,
                   CASE WHEN i %% 3 = 0 THEN 'csuite' ELSE 'vp' END, 'Germany', 'Company ' || (i %% 900),
                   'first', now() - (i || ' seconds')::interval, 'bench'
            FROM generate_series(1, %s) AS i
            """,
            [COUNT],
        )
        # Each detected member is senior now (a digest row shows the member as they are).
        cursor.execute(
            """
            INSERT INTO detections_seniormember
              (user_id, username, title, level, country, company, first_detected_at, last_seen_at, rules_version,
               enrichment_error)
            SELECT user_id, username, title, level, country, company, detected_at, detected_at, rules_version, ''
            FROM detections_detection
            """
        )


def run_build() -> dict:
    django_setup()
    from digests.models import DigestDelivery
    from digests.services import digest_build_weekly

    started = time.perf_counter()
    digest = digest_build_weekly(freeze_gc=True).digest  # as the Celery task builds it
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "detections": digest.detection_count, "deliveries": DigestDelivery.objects.count()}


def run_baseline() -> dict:
    django_setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO digests_digest (kind, week_ending, created_at, detection_count, member_count, left_out_count, "
            "chunk_count) VALUES ('extra', '2000-01-07', now(), 0, 0, 0, 0) RETURNING id"
        )
        digest_id = cursor.fetchone()[0]
        started = time.perf_counter()
        cursor.execute("UPDATE detections_detection SET digest_id = %s WHERE digest_id IS NULL", [digest_id])
        seconds = time.perf_counter() - started
        cursor.execute("UPDATE detections_detection SET digest_id = NULL")
        cursor.execute("DELETE FROM digests_digest WHERE id = %s", [digest_id])
    return {"seconds": seconds}


def in_subprocess(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.digest_build", "--run", mode], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed()
    baseline = in_subprocess("baseline")
    build = in_subprocess("build")
    print(f"machine: {os.cpu_count()} cores; {COUNT:,} pending detections")
    print(f"baseline: one UPDATE linking them to a digest        {baseline['seconds']:.3f} s")
    print(
        f"digest_build_weekly (render email + Teams, link)     {build['seconds']:.3f} s  "
        f"({build['detections']:,} detections, {build['deliveries']:,} deliveries; "
        f"{build['seconds'] / baseline['seconds']:.0f}x baseline)"
    )
    print("target: <= 2 s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        print(json.dumps({"build": run_build, "baseline": run_baseline}[sys.argv[2]]()))
    else:
        main()
