"""End-to-end webhook throughput on this machine, against baselines measured in the same run.

    make bench        (throwaway PostgreSQL and Redis, like make test; installs Debian's wrk when missing)
    make bench BENCH_ARGS="--duration 60 --connections 16 --web-workers 1 --threads 4 --worker-concurrency 2 --profile"

Starts the production shape on 127.0.0.1 — granian (production settings; `--server gunicorn` to
compare), Celery worker(s), PostgreSQL, Redis — and drives it with wrk and a Lua script posting
a realistic mix: about a third senior titles, members updating their title several times,
Country/Company updates, and repeats (wrk cycles the bodies, so later passes are redeliveries).
Then it waits for the backlog to drain and prints accepted/s, accept latency, processed/s,
processing lag, lost events and a check of member state and detections against a sequential
replay of the stored events. Baselines, same machine, same run: a bare Django view doing one
INSERT under the same web server, and pgbench running that INSERT; and for the held run's
latency, the bare view held at the same rate in the webhook's server shape just before it, with
the same disk probe and timed replies (with --held-only, the only baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.throughput.disk import DiskProbe, disk_figures, disk_line
from benchmarks.throughput.sampler import ReplySampler, tail_line

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
USERNAME, PASSWORD = "insided", "bench-password-" + secrets.token_hex(8)

# granian as the Dockerfile runs it: a process per core of this 2-core machine, two blocking threads
# each (docs/performance.md, "The knobs, and what they trade").
WEB_WORKERS, WEB_THREADS = 2, 2
BARE_APP = "benchmarks.throughput.bare_wsgi:application"

SENIOR = ["Chief Executive Officer", "CFO", "VP of Sales", "SVP Engineering", "Chief Revenue Officer", "EVP & COO"]
OTHER = [
    "Software Engineer",
    "Product Manager",
    "Director of Sales",
    "Account Executive",
    "Head of Marketing",
    "Customer Success Manager",
    "Assistant to the CEO",
    "Data Analyst",
    "Consultant",
]


def log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="captpathfinder.settings.production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DEBUG="false",
        WEBHOOK_BASIC_AUTH_USERNAME=USERNAME,
        WEBHOOK_BASIC_AUTH_PASSWORD=PASSWORD,
        LOG_LEVEL="WARNING",
        DIGEST_BACKEND="console",
        # Production will not start with an enabled digest channel that has no recipients.
        DIGEST_EMAIL_TO="operators@example.com",
        DIGEST_TEAMS_WEBHOOK_URL="https://example.com/teams-workflow-webhook",
        CAPTPATHFINDER_VAR_DIR=str(tmp / "var"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),
        CELERY_VISIBILITY_TIMEOUT="60",
    )
    (tmp / "prometheus").mkdir(parents=True, exist_ok=True)
    return env


def workload(members: int, events: int, seed: int = 1, first_id: int = 1) -> list[str]:
    """Webhook bodies: each member moves through a few titles, oldValue chained as inSided sends it."""
    rng = random.Random(seed)
    titles: dict[str, str] = {}
    bodies = []
    for _ in range(events):
        user_id = str(rng.randint(first_id, first_id + members - 1))
        if user_id in titles and titles[user_id] in SENIOR and rng.random() < 0.15:
            field = rng.choice(["Country", "Company"])
            value = rng.choice(["United States", "Germany", "Acme", "Globex"])
            old = ""
        else:
            field = "Job Title"
            value = rng.choice(SENIOR) if rng.random() < 1 / 3 else rng.choice(OTHER)
            old = titles.get(user_id, "")
            titles[user_id] = value
        bodies.append(
            json.dumps(
                {
                    "userId": user_id,
                    "username": f"Member {user_id}",
                    "profileFieldId": "123",
                    "profileField": field,
                    "value": value,
                    "oldValue": old,
                }
            )
        )
    return bodies


def write_lua_bodies(path: Path, bodies: list[str]) -> None:
    import base64

    auth = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    with path.open("w") as out:
        out.write(f'auth = "{auth}"\nbodies = {{\n')
        for body in bodies:
            out.write(f"[==[{body}]==],\n")
        out.write("}\n")


class Processes:
    """Everything this run starts, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, cmd: list[str], env: dict, log_path: Path) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.stop(proc)


def child_pids(proc: subprocess.Popen) -> set[str]:
    """The process ids of `proc`'s children: granian's workers, Celery's pool processes."""
    found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    return set(found.stdout.split())


def wait_http(port: int, path: str, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def server_threads(args) -> str:
    return f"{args.worker_class}/{args.threads}" if args.server == "gunicorn" else f"{args.threads} thread(s)"


def web_server(procs: Processes, app: str, env: dict, tmp: Path, args) -> tuple[subprocess.Popen, int]:
    """The WSGI server under test: gunicorn (sync workers close every connection) or granian
    (HTTP handled in Rust, keep-alive, each worker runs the app on its blocking threads)."""
    port = free_port()
    if args.server == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(args.web_workers), "--blocking-threads", str(args.threads), "--no-ws"]
        cmd += ["--respawn-failed-workers", "--backlog", "2048", "--log-level", "warning", app]
        cmd += ["--access-log"] if args.access_log else []  # off, as the Dockerfile runs it
    else:
        cmd = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
        cmd += ["--workers", str(args.web_workers), "--worker-class", args.worker_class, "--threads", str(args.threads)]
        cmd += ["--backlog", "2048", "--log-level", "warning"]
    proc = procs.start(cmd, env, tmp / f"{args.server}-{app.split(':')[0].rsplit('.', 1)[-1]}.log")
    wait_http(port, "/health" if "captpathfinder" in app else "/bare")
    return proc, port


def production_web_args() -> argparse.Namespace:
    """`web_server`'s arguments for granian as production runs it."""
    return argparse.Namespace(server="granian", web_workers=WEB_WORKERS, threads=WEB_THREADS, access_log=False)


def celery_worker(
    procs: Processes, env: dict, log_path: Path, *, concurrency: int, hostname: str | None = None, nice: int = 0
) -> subprocess.Popen:
    """A Celery worker process as the production shape runs it (no gossip or mingle)."""
    cmd = ["nice", "-n", str(nice)] if nice else []
    cmd += [sys.executable, "-m", "celery", "-A", "captpathfinder", "worker", "--loglevel=WARNING"]
    cmd += [f"--concurrency={concurrency}", "--without-gossip", "--without-mingle"]
    if hostname:
        cmd.append(f"--hostname={hostname}")
    return procs.start(cmd, env, log_path)


def wrk(port: int, path: str, lua_args: list[str], args, duration: int) -> dict:
    cmd = [
        "wrk",
        "-t",
        str(args.threads_wrk),
        "-c",
        str(args.connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "webhooks.lua"),
        f"http://127.0.0.1:{port}{path}",
        "--",
        *lua_args,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^RESULT (.*)$", out, re.M)
    # wrk has exited before the CPU counters are read from /proc: its own CPU, from its rusage.
    return {**json.loads(match[1]), "cpu_seconds": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime}


GROUPS = ("gunicorn", "granian", "celery", "postgres", "redis-server", "wrk", "pgbench")


def cpu_seconds() -> Counter:
    """CPU seconds used so far by every process on the machine, grouped by what it is."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: Counter = Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = next((g for g in GROUPS if g in cmdline), "other")
        used[group] += (int(fields[11]) + int(fields[12])) / ticks
    return used


def cpu_line(what: str, used: Counter, run: dict) -> str:
    requests = max(run["requests"], 1)
    parts = ", ".join(f"{g} {1000 * used[g] / requests:.2f}" for g in (*GROUPS, "other") if used[g] >= 0.005)
    return (
        f"CPU per request, {what} (ms): {parts}; total {1000 * sum(used.values()) / requests:.2f} "
        f"of the machine's {1000 * os.cpu_count() * run['seconds'] / requests:.2f}"
    )


def pgbench(duration: int, clients: int) -> float:
    from urllib.parse import urlsplit

    url = urlsplit(os.environ["DATABASE_URL"])
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write('INSERT INTO bench_bare (body) VALUES (\'{"userId": "1", "value": "VP of Sales"}\');\n')
    pg_bin = os.environ.get("PG_BIN", "")
    cmd = [
        os.path.join(pg_bin, "pgbench") if pg_bin else "pgbench",
        "-n",
        "-h",
        url.hostname,
        "-p",
        str(url.port),
        "-U",
        url.username or "postgres",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(duration),
        "-f",
        script.name,
        url.path.lstrip("/"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out)[1])


def django_setup(env: dict) -> None:
    os.environ.update({k: v for k, v in env.items() if k not in os.environ or k.startswith(("DJANGO", "SECRET"))})
    os.environ.update(env)
    import django

    django.setup()


def drain(timeout: float) -> bool:
    """Wait until every stored event is processed and no more arrive (the server may still be
    answering requests wrk sent just before it stopped)."""
    from detections.models import PendingEvent, RawEvent

    deadline, last_count, stable_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = RawEvent.objects.count()
        if count != last_count:
            last_count, stable_since = count, time.monotonic()
        pending = PendingEvent.objects.exists()
        if not pending and time.monotonic() - stable_since >= 2:
            return True
        time.sleep(0.25)
    return False


def pipeline_figures(since: float) -> dict:
    """Stored and applied events of the load run that started at `since` (epoch seconds)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(processed_at), min(received_at), max(processed_at),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at)),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at))
            FROM detections_rawevent WHERE received_at >= to_timestamp(%s)
            """,
            [since],
        )
        stored, processed, first, last, lag50, lag99 = cursor.fetchone()
    span = (last - first).total_seconds() if first and last else 0
    return {
        "stored": stored,
        "processed": processed,
        "processed_per_s": processed / span if span else 0,
        "lag_p50_s": lag50 or 0,
        "lag_p99_s": lag99 or 0,
        "last_applied": last,
    }


def replay_check() -> tuple[bool, str]:
    """Member state and detections equal a sequential replay of the stored events, in id order."""
    from detections.models import Detection, RawEvent, SeniorMember
    from tests.detections.replay import replay

    events = list(RawEvent.objects.order_by("id").values_list("user_id", "field", "value"))
    members, detections = replay(events)
    actual_members = {
        m.user_id: (m.title, m.level, m.country, m.company)
        for m in SeniorMember.objects.only("user_id", "title", "level", "country", "company")
    }
    actual_detections = Counter(
        Detection.objects.values_list("user_id", "kind", "level", "title", "country", "company")
    )
    ok_members = actual_members == members
    ok_detections = actual_detections == Counter(detections)
    return ok_members and ok_detections, (
        f"members {len(actual_members):,} (replay {len(members):,}, {'equal' if ok_members else 'DIFFERENT'}), "
        f"detections {sum(actual_detections.values()):,} (replay {len(detections):,}, "
        f"{'equal' if ok_detections else 'DIFFERENT'})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--baseline-duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads-wrk", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS, help="granian processes (the Dockerfile's)")
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian", help="granian: production")
    parser.add_argument("--worker-class", default="sync", help="gunicorn's worker class")
    parser.add_argument(
        "--threads", type=int, default=WEB_THREADS, help="granian's blocking threads per process (the Dockerfile's)"
    )
    parser.add_argument("--access-log", action="store_true", help="granian's access log on (production: off)")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--worker-nice", type=int, default=10, help="the Celery worker's nice level, as docker-compose runs it"
    )
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="py-spy the web and worker processes under load")
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.025,
        help="seconds between the replies timed one by one beside the load (0: none)",
    )
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--held-only", action="store_true", help="only the run held at --rate")
    parser.add_argument(
        "--rate", type=int, default=800, help="a second run held at this rate, for its latency (0: no second run)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: make bench installs it (or: apt-get install wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="captpathfinder-bench-"))
    env = service_env(tmp)
    procs = Processes()
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        django_setup(env)
        from django.db import connection

        from benchmarks.throughput.bare_wsgi import TABLE

        with connection.cursor() as cursor:
            cursor.execute(TABLE)
        bodies_path = tmp / "bodies.lua"
        write_lua_bodies(bodies_path, workload(args.members, args.events))
        lua_args = [str(bodies_path), str(args.threads_wrk)]
        print(
            f"machine: {os.cpu_count()} cores; wrk {args.threads_wrk} threads x {args.connections} connections; "
            f"{args.server} {args.web_workers} x {server_threads(args)}; celery concurrency "
            f"{args.worker_concurrency}; {args.events:,} bodies over {args.members:,} members per run"
        )

        results = {}
        # Each run gets its baselines: the bare view and pgbench at their fastest for the run as fast
        # as it goes, the bare view held at --rate for the held run (held_baseline).
        if not args.skip_baselines and not args.held_only:
            # The bare view at its fastest here: a granian process per core (one process is bound
            # by its GIL at about half that).
            bare_args = argparse.Namespace(**{**vars(args), "web_workers": os.cpu_count(), "threads": 2})
            bare, port = web_server(procs, BARE_APP, env, tmp, bare_args)
            warm_up_bare(port, lua_args, args)
            cpu_before = cpu_seconds()
            results["bare"] = checked_bare(wrk(port, "/bare", lua_args, args, args.baseline_duration))
            bare_cpu = cpu_seconds() - cpu_before
            bare_cpu["wrk"] += results["bare"]["cpu_seconds"]
            label = f"bare view, granian {bare_args.web_workers} x {bare_args.threads} thread(s)"
            print(cpu_line(label, bare_cpu, results["bare"]))
            procs.stop(bare)
            results["pgbench"] = pgbench(args.baseline_duration, args.connections)

        worker = celery_worker(
            procs, env, tmp / "celery.log", concurrency=args.worker_concurrency, nice=args.worker_nice
        )
        web, port = web_server(procs, "captpathfinder.wsgi:application", env, tmp, args)
        # As fast as it goes, then held at --rate: the first gives throughput, the second the
        # latency at the target rate (a saturated server's latency is its queue, whatever it is).
        runs = [] if args.held_only else [("as fast as it goes", 0)]
        runs += [(f"held at {args.rate:,}/s", args.rate)] if args.rate else []
        outcomes = []
        for number, (label, rate) in enumerate(runs):
            if number:  # new members, so the run is not mostly redeliveries of the first one
                write_lua_bodies(bodies_path, workload(args.members, args.events, seed=2, first_id=10**6))
            run_args = [*lua_args, str(rate), str(max(args.connections // args.threads_wrk, 1))]
            if rate and not args.skip_baselines:
                results["held"] = held_baseline(procs, env, tmp, run_args, args)
            run = load_run(label, number, procs, web, worker, port, run_args, args, tmp)
            outcomes.append({**run, "held": bool(rate)})
        correct, detail = replay_check()
        report(args, results, outcomes, correct, detail)
        if (tmp / "profile-web.txt").exists():
            summarise_profiles(tmp)
        fine = all(
            o["drained"] and o["wrk"]["accepted"] + o["sampled_accepted"] <= o["figures"]["stored"] for o in outcomes
        )
        return 0 if fine and correct else 1
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def load_run(label, number, procs, web, worker, port, lua_args, args, tmp) -> dict:
    """One wrk run against the webhook, then the wait until everything it stored is applied."""
    profilers = start_profilers(procs, web, worker, tmp, args.duration) if args.profile else []
    args.profile = False  # the first run only
    started = time.time()
    outcome = measured_load(port, "/webhooks/community", lua_args, args, tmp, number)
    for profiler in profilers:
        profiler.wait()
    drained = drain(timeout=300)
    figures = pipeline_figures(started)
    last = figures["last_applied"]
    drain_seconds = last.timestamp() - started - outcome["wrk"]["seconds"] if last else 0
    return {
        **outcome,
        "label": label,
        "cpu": cpu_line("webhook", outcome["cpu_used"], outcome["served"]),
        "disk": disk_line(outcome["disk_used"], outcome["served"]),
        "drained": drained,
        "figures": figures,
        "drain_seconds": drain_seconds,
    }


def held_baseline(procs, env, tmp, lua_args, args) -> dict:
    """The bare view held at --rate in the webhook's own server shape, just before the webhook's
    held run: the tail that one durable INSERT per request has on this disk and these cores, this
    minute. Where it misses the target too, the miss is the machine's."""
    bare, port = web_server(procs, BARE_APP, env, tmp, args)
    try:
        warm_up_bare(port, lua_args[:2], args)
        outcome = measured_load(port, "/bare", lua_args, args, tmp, number=9)
        checked_bare(outcome["wrk"])
    finally:
        procs.stop(bare)
    label = f"bare view, held, granian {args.web_workers} x {args.threads} thread(s)"
    return {**outcome, "cpu": cpu_line(label, outcome["cpu_used"], outcome["served"])}


def warm_up_bare(port: int, lua_args: list[str], args) -> None:
    """A few seconds of load, then an empty table, so `checked_bare` counts the measured run's rows."""
    from django.db import connection

    wrk(port, "/bare", lua_args, args, 3)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_bare")


def checked_bare(run: dict) -> dict:
    """`run` if every reply of the bare view was its INSERT's; the benchmark stops otherwise, as a
    baseline that answers something else (an error page, say) makes every ratio to it wrong."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_bare")
        (rows,) = cursor.fetchone()
    if run["other"] or run["errors"] or rows < run["accepted"]:
        raise RuntimeError(
            f"the bare view's baseline did not measure its INSERT: {run['accepted']:,} accepted, "
            f"{run['other']:,} other replies, {run['errors']:,} socket errors, {rows:,} rows inserted"
        )
    return run


def measured_load(port, path, lua_args, args, tmp, number) -> dict:
    """wrk against `path` for --duration, with the disk probe and the replies timed one by one beside it."""
    probe = DiskProbe(tmp)
    probe.start()
    sampler = None
    if args.sample_interval:
        # Members of their own, new in each run, so the timed replies are first deliveries.
        count = int(args.duration / args.sample_interval) + 100
        bodies = workload(500, count, seed=3 + number, first_id=9_000_000 + 100_000 * number)
        sampler = ReplySampler(port, (USERNAME, PASSWORD), bodies, args.sample_interval, path=path)
        sampler.start()
    cpu_before, disk_before = cpu_seconds(), disk_figures()
    result = wrk(port, path, lua_args, args, args.duration)
    cpu_used, disk_used = cpu_seconds() - cpu_before, disk_figures() - disk_before
    if sampler:
        sampler.stop()
    probe_line = probe.stop()
    cpu_used["wrk"] += result["cpu_seconds"]
    return {
        "wrk": result,
        "cpu_used": cpu_used,
        "disk_used": disk_used,
        # Per request served: wrk's and the timed ones.
        "served": {**result, "requests": result["requests"] + (len(sampler.replies) if sampler else 0)},
        "disk_probe": probe_line,
        "tail": tail_line(sampler, probe) if sampler else None,
        "sampled_accepted": sampler.accepted if sampler else 0,
    }


def start_profilers(procs, web, worker, tmp, duration):
    """py-spy on one web worker and the Celery pool, sampling for most of the load."""
    time.sleep(2)
    children, pool = sorted(child_pids(web)), sorted(child_pids(worker))
    targets = {"web": children[0], "worker": pool[0] if pool else str(worker.pid)}
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                pid,
                "--duration",
                str(max(duration - 5, 5)),
                "--format",
                "raw",
                "--rate",
                "200",
                "--nonblocking",
                "--output",
                str(tmp / f"profile-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"py-spy-{name}.log").open("w"),
        )
        for name, pid in targets.items()
    ]


PROJECT = ("captpathfinder/", "detections/", "classification/", "digests/", "reports/")


def _frame_name(frame: str) -> str:
    """'func (/path/to/module.py:12)' -> 'func (package/module.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    return f"{name} ({'/'.join(path.split('/')[-2:])})"


def summarise_profiles(tmp: Path) -> None:
    """Where the time goes: by the function on top of the stack (self), and inclusive for our code."""
    for name in ("web", "worker"):
        path = tmp / f"profile-{name}.txt"
        if not path.exists():
            continue
        own, ours, total = Counter(), Counter(), 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames, count = stack.split(";"), int(count)
            total += count
            own[_frame_name(frames[-1])] += count
            for frame in {f for f in frames if any(part in f for part in PROJECT)}:
                ours[_frame_name(frame)] += count
        print(f"\nprofile of one {name} process ({total:,} samples): on top of the stack (self), top 15")
        for frame, count in own.most_common(15):
            print(f"  {100 * count / total:5.1f}%  {frame}")
        print("inclusive, CaptPathfinder code, top 12")
        for frame, count in ours.most_common(12):
            print(f"  {100 * count / total:5.1f}%  {frame}")


def latency_row(label: str, run: dict) -> str:
    rate = run["requests"] / run["seconds"]
    return f"{label:<48}{rate:>10,.0f}{run['p50_ms']:>9.1f}{run['p95_ms']:>9.1f}{run['p99_ms']:>9.1f}"


def report(args, results, outcomes, correct, detail) -> None:
    print(f"\n{'':<48}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    bare_rate = 0.0
    if "bare" in results:
        bare = results["bare"]
        bare_rate = bare["requests"] / bare["seconds"]
        print(latency_row("baseline: bare Django view, one INSERT", bare))
        print(f"{'baseline: pgbench, the same INSERT':<48}{results['pgbench']:>10,.0f}")
    lost = 0
    for outcome in outcomes:
        ours, figures = outcome["wrk"], outcome["figures"]
        if outcome["held"] and "held" in results:
            held = results["held"]
            print(latency_row("baseline: bare view, " + outcome["label"], held["wrk"]))
            for line in (held["cpu"], held["disk_probe"], held["tail"]):
                if line:
                    print(f"  {line}")
        print(latency_row("webhook, " + outcome["label"], ours))
        if bare_rate and not outcome["held"]:
            accepted_s = ours["requests"] / ours["seconds"]
            print(f"  = {accepted_s / bare_rate:.2f}x the bare view, {accepted_s / results['pgbench']:.3f}x pgbench")
        print(
            f"  replies: {ours['accepted']:,} accepted, {ours['duplicate']:,} duplicate, {ours['ignored']:,} ignored, "
            f"{ours['other']:,} other ({ours['throttled']:,} × 429, {ours['unavailable']:,} × 503, "
            f"{ours['server_error']:,} other 5xx), {ours['errors']:,} socket errors, over {ours['seconds']:.1f} s"
        )
        print(
            f"  processed: {figures['processed']:,} of {figures['stored']:,} stored events, "
            f"{figures['processed_per_s']:,.0f}/s end to end; lag p50 {figures['lag_p50_s']:.2f} s, "
            f"p99 {figures['lag_p99_s']:.2f} s; backlog {'drained' if outcome['drained'] else 'NOT drained'}, "
            f"the last event applied {max(outcome['drain_seconds'], 0):.1f} s after the load ended"
        )
        print(f"  {outcome['cpu']}")
        print(f"  {outcome['disk']}")
        print(f"  {outcome['disk_probe']}")
        if outcome["tail"]:
            print(f"  {outcome['tail']}")
        accepted = ours["accepted"] + outcome["sampled_accepted"]
        lost += max(accepted - figures["stored"], 0) + (figures["stored"] - figures["processed"])
    print(f"lost: {lost}; replay check: {'OK' if correct else 'FAILED'} — {detail}")


if __name__ == "__main__":
    sys.exit(main())
