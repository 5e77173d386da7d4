"""Backfill from CSV: members per second and peak memory for 200,000 members.

    make bench-backfill      (starts throwaway PostgreSQL and Redis, like make test)

Generates a community export (a third senior titles, in many spellings, with countries,
companies and join dates), then, each in a fresh process so peak memory (VmHWM) is that run's:
  - baseline: psycopg COPY of the same file into a bare table — the floor for getting the rows
    into PostgreSQL, with no classification or state machine;
  - the backfill: `manage.py backfill_members --csv` (baseline mode), at 50,000 and 200,000
    rows: flat memory means the same peak for both.
Target: >= 5,000 members/s for 200,000, memory flat.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time

SIZES = [50_000, 200_000]
SENIOR = [
    "Chief Executive Officer",
    "CEO & Founder",
    "C.F.O.",
    "Chief Revenue Officer",
    "SVP, Global Sales",
    "VP Engineering",
    "Vice President of Marketing",
    "EVP & CFO",
    "Directeur Général",
    "Vicepresidente de Ventas",
    "Geschäftsführer",
    "Interim CTO",
]
OTHER = [
    "Software Engineer",
    "Senior Product Manager",
    "Director of Sales",
    "Head of Marketing",
    "Assistant to the CEO",
    "Account Executive",
    "Customer Success Manager",
    "Former VP of Sales",
    "Data Scientist",
    "Chief of Staff",
    "Student",
    "Consultant",
]
COUNTRIES = ["United States", "Germany", "France", "Brazil", "Japan", "India", "", "Canada", "Spain", "Italy"]


def peak_mb() -> float:
    """VmHWM: ru_maxrss would carry the parent's peak over across fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def write_export(path: str, count: int) -> None:
    rng = random.Random(7)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "username", "job_title", "country", "company", "joined_at"])
        for i in range(1, count + 1):
            title = rng.choice(SENIOR) if rng.random() < 1 / 3 else rng.choice(OTHER)
            if rng.random() < 0.3:
                title = f"{title}, {rng.choice(['EMEA', 'Americas', 'APAC', 'Global'])}"
            joined = f"20{rng.randint(15, 26):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            writer.writerow([i, f"Member {i}", title, rng.choice(COUNTRIES), f"Company {i % 7000}", joined])


def run_baseline(path: str) -> dict:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (user_id text, username text, job_title text, country text, company text, "
            "joined_at date)"
        )
        with (
            open(path, "rb") as source,
            conn.cursor().copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER)") as copy,
        ):
            while block := source.read(1 << 16):
                copy.write(block)
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def run_backfill(path: str) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.test")
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command

    from detections.models import SeniorMember

    started = time.perf_counter()
    out = StringIO()
    call_command("backfill_members", "--csv", path, "--restart", stdout=out, stderr=StringIO())
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "members": SeniorMember.objects.count(),
        "summary": out.getvalue(),
    }


def in_subprocess(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.backfill", "--run", *args], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def reset_database() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.test")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.core.management import call_command; "
            "call_command('migrate', verbosity=0); from django.db import connection; "
            "connection.cursor().execute('TRUNCATE detections_seniormember, detections_detection, "
            "detections_backfillrun')",
        ],
        check=True,
    )


def main() -> None:
    print(f"machine: {os.cpu_count()} cores; PostgreSQL via DATABASE_URL")
    print(f"{'members':>9}  {'what':<44} {'seconds':>8} {'per s':>9} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for count in SIZES:
            path = os.path.join(folder, f"export-{count}.csv")
            write_export(path, count)
            reset_database()
            baseline = in_subprocess("baseline", path)
            result = in_subprocess("backfill", path)
            print(
                f"{count:>9,}  {'baseline: psycopg COPY into a bare table':<44} {baseline['seconds']:>8.2f} "
                f"{count / baseline['seconds']:>9,.0f} {baseline['peak_mb']:>8.0f}"
            )
            print(
                f"{count:>9,}  {'backfill_members --csv (baseline mode)':<44} {result['seconds']:>8.2f} "
                f"{count / result['seconds']:>9,.0f} {result['peak_mb']:>8.0f}   "
                f"({result['seconds'] / baseline['seconds']:.0f}x baseline time; {result['members']:,} senior)"
            )
    print("target: >= 5,000 members/s for 200,000 members, memory flat")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--run":
        print(json.dumps({"baseline": run_baseline, "backfill": run_backfill}[sys.argv[2]](sys.argv[3])))
    else:
        main()
