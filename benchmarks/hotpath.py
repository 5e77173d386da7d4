"""CPU and SQL statements per webhook on the hot path, in one process, against the real PostgreSQL.

    .venv/bin/python scripts/with_services.py -- .venv/bin/python -m benchmarks.hotpath [--webhooks 3000]

Wall-clock throughput (`make bench`) moves with the machine's load; CPU time per request moves far
less. This posts `--webhooks` generated inSided deliveries (the mix `make bench` sends) through
Django's WSGI handler with the production settings `make bench` gives granian, and after every
`--batch` of them applies what was stored by calling the Celery task's function in-process, as a
worker would on its wake-up. Then the bare one-INSERT view (benchmarks/throughput/bare_wsgi.py), the
same way. Per webhook it prints the Python CPU of each side, the SQL statements each sends (savepoints
included; commits are not statements), the database backend's CPU (from /proc, 10 ms ticks, so read
it over thousands of requests), and the most frequent statements; with `--profile`, a second pass
under cProfile gives each side's most expensive functions of project code (cumulative, per webhook).
It measures; nothing asserts a figure.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.throughput.run import PASSWORD, USERNAME, service_env, workload

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Meter:
    """Python CPU, statements and database backend CPU, accumulated per side ("web", "worker", "bare")."""

    def __init__(self) -> None:
        self.cpu: Counter = Counter()
        self.db_cpu: Counter = Counter()
        self.statements: Counter = Counter()
        self.texts: dict[str, Counter] = {}
        self.side: str | None = None

    def wrapper(self, execute, sql, params, many, context):
        if self.side is not None:
            self.statements[self.side] += 1
            key = re.sub(r"\s+", " ", sql)[:110]
            self.texts.setdefault(self.side, Counter())[key] += 1
        return execute(sql, params, many, context)

    def measure(self, side: str, function):
        backend_before = _backend_cpu()
        self.side = side
        started = time.process_time()
        try:
            return function()
        finally:
            self.cpu[side] += time.process_time() - started
            self.side = None
            self.db_cpu[side] += _backend_cpu() - backend_before


def _backend_cpu() -> float:
    """This thread's connection's PostgreSQL backend: its user + system CPU seconds so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def environ(path: str, body: bytes, auth: str) -> dict:
    """What granian passes the application for one POST (HTTP/1.1, keep-alive, a Content-Length)."""
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": auth,
        "HTTP_USER_AGENT": "wrk",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def post(application, path: str, body: bytes, auth: str) -> str:
    statuses = []
    result = application(environ(path, body, auth), lambda status, headers, exc_info=None: statuses.append(status))
    try:
        b"".join(result)
    finally:
        result.close()  # request_finished: what the server does after the reply
    return statuses[0]


def run_side(meter, side, application, path, bodies, auth, batch, drain, replies):
    for start in range(0, len(bodies), batch):
        for body in bodies[start : start + batch]:
            replies[meter.measure(side, lambda body=body: post(application, path, body, auth))] += 1
        if drain is not None:
            meter.measure("worker", drain)


def project_top(profile: cProfile.Profile, per: int, limit: int, everything: bool = False) -> list[str]:
    """The project's own functions (or all, `everything`) by cumulative time, per webhook."""
    import pstats

    stats = pstats.Stats(profile).stats
    rows = []
    for (filename, line, name), (_cc, calls, _tt, cumulative, _callers) in stats.items():
        ours = filename.startswith(str(ROOT)) and "/.venv/" not in filename and "/benchmarks/" not in filename
        if not (ours or everything) or "/benchmarks/" in filename:
            continue
        short = filename.removeprefix(str(ROOT) + "/").removeprefix(".venv/lib/python3.11/site-packages/")
        where = f"{short}:{line} {name}"
        rows.append((cumulative, calls, where))
    rows.sort(reverse=True)
    return [f"    {cum / per * 1e6:8.1f} µs  {calls / per:6.2f} calls  {where}" for cum, calls, where in rows[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=3000)
    parser.add_argument("--members", type=int, default=0, help="members the deliveries are spread over (webhooks / 3)")
    parser.add_argument("--batch", type=int, default=300, help="deliveries per worker wake-up (0.5 s)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="then a pass under cProfile, per side")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--everything", action="store_true", help="the profile lists library code too")
    parser.add_argument("--statements", type=int, default=12, help="most frequent statements shown per side")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hotpath-"))
    os.environ.update(service_env(tmp))
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    from benchmarks.throughput.bare_wsgi import TABLE
    from benchmarks.throughput.bare_wsgi import application as bare_application
    from detections.tasks import events_process_pending

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute(TABLE)
    application = get_wsgi_application()
    auth = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    members = args.members or max(1, args.webhooks // 3)
    total = args.warmup + args.webhooks * (2 if args.profile else 1)
    bodies = [b.encode() for b in workload(members=members, events=total, seed=7)]
    warm, measured, profiled = (
        bodies[: args.warmup],
        bodies[args.warmup : args.warmup + args.webhooks],
        bodies[args.warmup + args.webhooks :],
    )
    drain = events_process_pending.run  # the task's own function, as the worker calls it

    meter = Meter()
    replies: Counter = Counter()
    with connection.execute_wrapper(meter.wrapper):
        run_side(Meter(), "web", application, "/webhooks/community", warm, auth, args.batch, drain, Counter())
        run_side(Meter(), "bare", bare_application, "/bare", warm, auth, args.batch, None, Counter())
        run_side(meter, "web", application, "/webhooks/community", measured, auth, args.batch, drain, replies)
        bare_replies: Counter = Counter()
        run_side(meter, "bare", bare_application, "/bare", measured, auth, args.batch, None, bare_replies)

    n = args.webhooks
    print(f"{n} webhooks over {members} members, worker every {args.batch}; replies {dict(replies)}")
    print(f"bare view: replies {dict(bare_replies)}")
    print(f"{'per webhook':<24}{'CPU µs':>9}{'statements':>12}{'db CPU µs':>11}")
    for side in ("web", "worker", "bare"):
        print(
            f"{side:<24}{meter.cpu[side] / n * 1e6:>9.0f}{meter.statements[side] / n:>12.2f}"
            f"{meter.db_cpu[side] / n * 1e6:>11.0f}"
        )
    webhook = sum(meter.cpu[s] + meter.db_cpu[s] for s in ("web", "worker"))
    bare = meter.cpu["bare"] + meter.db_cpu["bare"]
    print(f"{'webhook / bare (CPU + db CPU)':<24}{webhook / bare:>9.2f}x")
    for side in ("web", "worker"):
        print(f"most frequent statements, {side} (per webhook):")
        for text, count in meter.texts.get(side, Counter()).most_common(args.statements):
            print(f"    {count / n:6.3f}  {text}")

    if args.profile:
        # CPU time (this thread's), not the wall clock: waiting for PostgreSQL is not the web's cost.
        profiles = {"web": cProfile.Profile(time.thread_time), "worker": cProfile.Profile(time.thread_time)}

        def profiled_post(body):
            profiles["web"].enable()
            try:
                return post(application, "/webhooks/community", body, auth)
            finally:
                profiles["web"].disable()

        def profiled_drain():
            profiles["worker"].enable()
            try:
                return drain()
            finally:
                profiles["worker"].disable()

        for start in range(0, len(profiled), args.batch):
            for body in profiled[start : start + args.batch]:
                profiled_post(body)
            profiled_drain()
        for side, profile in profiles.items():
            what = "all code" if args.everything else "project code"
            print(f"cProfile, {side}: {what} by cumulative CPU time (per webhook, with the profiler's overhead)")
            print("\n".join(project_top(profile, len(profiled), args.top, everything=args.everything)))


if __name__ == "__main__":
    main()
