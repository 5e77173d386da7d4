"""Building Friday's digests for 10,000 pending detections: one audience, then twenty, against baselines.

    make bench-digest      (starts throwaway PostgreSQL and Redis, like make test)

Seeds 10,000 detections of members in ten countries and 900 companies (SQL generate_series), then
in fresh processes times `digests.services.digest_build_weekly()` — read the candidates and their
members once, then per audience: lock it, match its filter, one row per member, render every chunk
for email (Jinja2) and Teams (Adaptive Cards, sized under 28 KB), create the deliveries, record the
receipts. Measured in the same run:

- a bare baseline: one SQL INSERT recording a receipt for each detection;
- the one-audience build (the installation's "Everyone" audience alone), the issue's baseline;
- twenty audiences: Everyone, C-suite, ten countries, three regions, two company lists, an
  email-domain list, promotions only, and US VPs, about 3.6 rows per detection in all.

Targets: one audience <= 2 s; twenty <= 5 s with bounded memory (peak RSS printed for both).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

COUNT = 10_000


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.test")
    import django

    django.setup()


def seed(count: int = COUNT) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE detections_detection, detections_seniormember, digests_digestdelivery, digests_digest, "
            "digests_receipt CASCADE"
        )
        cursor.execute(
            """
            INSERT INTO detections_detection
              (user_id, username, title, level, function, country, company, kind, detected_at, rules_version)
            SELECT i::text, 'Member ' || i || CASE WHEN i %% 50 = 0 THEN ' <script>x</script>' ELSE '' END,
                   CASE WHEN i %% 3 = 0 THEN 'Chief Financial Officer' ELSE 'VP of Sales, EMEA' END,
                   CASE WHEN i %% 3 = 0 THEN 'csuite' ELSE 'vp' END,
                   CASE WHEN i %% 3 = 0 THEN 'finance' ELSE 'sales' END, (%s::text[])[1 + i %% 10],
                   'Company ' || (i %% 900), CASE WHEN i %% 30 = 0 THEN 'promotion' ELSE 'first' END,
                   now() - (i || ' seconds')::interval, 'bench'
            FROM generate_series(1, %s) AS i
            """,
            [COUNTRIES, count],
        )
        # Each detected member is senior now (a digest row shows the member as they are).
        cursor.execute(
            """
            INSERT INTO detections_seniormember
              (user_id, username, title, level, function, country, company, email_domain, first_detected_at,
               last_seen_at, rules_version, enrichment_error)
            SELECT user_id, username, title, level, function, country, company,
                   'company-' || (id % 900) || '.example', detected_at, detected_at, rules_version, ''
            FROM detections_detection
            """
        )


COUNTRIES = [
    "United States",
    "Germany",
    "United Kingdom",
    "France",
    "Japan",
    "Brazil",
    "India",
    "Canada",
    "Australia",
    "Netherlands",
]


def audiences_create() -> None:
    """Nineteen audiences beside Everyone, as a sales organisation might set them up."""
    from datetime import UTC, datetime

    from digests.models import Audience

    def add(name, **fields):
        Audience.objects.create(
            name=name, email_to=[f"{name.lower().replace(' ', '-')}@example.com"], starts_at=since, **fields
        )

    since = datetime(2000, 1, 1, tzinfo=UTC)
    codes = ["US", "DE", "GB", "FR", "JP", "BR", "IN", "CA", "AU", "NL"]
    add("C-suite", levels=["csuite"])
    for code in codes:
        add(f"Country {code}", countries=[code])
    add("EMEA", countries=["GB", "DE", "FR", "NL"])
    add("Americas", countries=["US", "CA", "BR"])
    add("APAC", countries=["JP", "IN", "AU"])
    add("Key accounts A", companies=[f"Company {n}" for n in range(0, 50)])
    add("Key accounts B", companies=[f"Company {n}" for n in range(50, 100)])
    add("Email domains", companies=[f"company-{n}.example" for n in range(100, 200)])
    add("Promotions", kinds=["promotion"])
    add("US VPs", levels=["vp"], countries=["US"])


def run_build() -> dict:
    django_setup()
    from digests.models import DigestDelivery
    from digests.services import digest_build_weekly

    started = time.perf_counter()
    build = digest_build_weekly(freeze_gc=True)  # as the Celery task builds it
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "digests": len(build.digests),
        "rows": sum(digest.member_count for digest in build.digests),
        "deliveries": DigestDelivery.objects.count(),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_baseline() -> dict:
    django_setup()
    from django.db import connection

    from digests.models import Audience

    everyone = Audience.objects.get(use_settings_channels=True)
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO digests_receipt (audience_id, stream, detection_id, left_out) "
            "SELECT %s, 'digest', id, '' FROM detections_detection",
            [everyone.pk],
        )
        seconds = time.perf_counter() - started
        cursor.execute("DELETE FROM digests_receipt")
    return {"seconds": seconds}


def reset() -> None:
    """Forget the previous build: its digests, deliveries and receipts, and where audiences scanned to."""
    from django.db import connection

    from digests.models import Audience

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE digests_receipt, digests_digestdelivery, digests_digest CASCADE")
    Audience.objects.update(digest_scanned_from=None, alert_scanned_from=None)


def in_subprocess(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.digest_build", "--run", mode], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    django_setup()
    from django.core.management import call_command

    from digests.models import Audience

    call_command("migrate", verbosity=0)
    Audience.objects.exclude(use_settings_channels=True).delete()
    seed()
    baseline = in_subprocess("baseline")
    one = in_subprocess("build")
    reset()
    audiences_create()
    twenty = in_subprocess("build")
    print(f"machine: {os.cpu_count()} cores; {COUNT:,} pending detections")
    print(f"baseline: one INSERT of a receipt for each           {baseline['seconds']:.3f} s")
    for label, build in (("one audience (Everyone)", one), ("twenty audiences", twenty)):
        print(
            f"digest_build_weekly, {label:<24} {build['seconds']:.3f} s  ({build['digests']} digests, "
            f"{build['rows']:,} rows, {build['deliveries']:,} deliveries; peak {build['peak_mb']:.0f} MB; "
            f"{build['seconds'] / one['seconds']:.2f}x one audience)"
        )
    print("targets: one audience <= 2 s; twenty audiences <= 5 s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        print(json.dumps({"build": run_build, "baseline": run_baseline}[sys.argv[2]]()))
    else:
        main()
