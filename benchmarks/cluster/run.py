"""The service as several hosts on this machine, under the same generated load as `make bench`.

    make bench-cluster
    make bench-cluster CLUSTER_ARGS="--layouts 1x1,2x4 --duration 20 --no-faults"

Each host is a Linux network namespace with its own address on a private bridge (10.231.0.0/24)
and a CPU quota (benchmarks/cluster/hosts.py): one database host (PostgreSQL, PgBouncer in
transaction mode in front), one broker host (Redis), N web hosts (granian as production runs it)
behind a load balancer host (HAProxy), M worker hosts (a Celery worker each; beat on the first),
and a load host running wrk. For each layout (web hosts x worker hosts) it prints accepted/s and
applied/s, the processing lag's p99, CPU per request by kind of host, the database connections in
use, and the lost and replay checks of `make bench` (member state and detections equal a
sequential replay of the stored events: per-member order and exactly-once across hosts).

Then three faults on the 2x4 layout, one run each: one worker host's cable pulled mid-run (and left
out), every process of one web host SIGKILLed mid-run, and the broker host cut off for 20 s. Each
must end with nothing lost, nothing applied twice, and no hand on it.

Everything listens on the bridge's private addresses, is removed at the end, on Ctrl-C and on
SIGTERM, and the whole run is bounded (--budget). Needs root, as `ip netns` and cgroups do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.cluster import services
from benchmarks.cluster.hosts import Cluster, Host
from benchmarks.throughput.run import (
    HERE as THROUGHPUT,
)
from benchmarks.throughput.run import (
    django_setup,
    drain,
    pipeline_figures,
    replay_check,
    service_env,
    workload,
    write_lua_bodies,
)

ROOT = Path(__file__).resolve().parents[2]
# Each host's CPU, in cores: the fixed hosts take 0.65 of them, and each web or worker host 0.15,
# so 3 web and 5 worker hosts use 1.85 of this machine's 2 cores.
CORES = {"db": 0.4, "broker": 0.05, "lb": 0.1, "load": 0.1, "web": 0.15, "worker": 0.15}
NUMBERS = {"db": 2, "broker": 3, "lb": 4, "load": 5, "web": 11, "worker": 31}
FAULTS = ("worker-link-down", "web-host-killed", "broker-partitioned")
FAULT_LAYOUT = (2, 4)
ROLES = ("web", "worker", "db", "broker", "lb", "load")


def log(text: str) -> None:
    print(f"[cluster] {text}", file=sys.stderr, flush=True)


@dataclass
class Outcome:
    label: str
    wrk: dict
    figures: dict
    drained: bool
    cpu_ms: dict[str, float]
    connections: dict[str, int]
    replay_ok: bool
    replay_detail: str
    wal_bytes: int
    busy: dict[str, float]
    answered: int
    unconfirmed: int
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Events whose delivery was answered 202 but that are not stored and applied, one by one
        by their event id, plus stored events never applied."""
        return self.unconfirmed + self.figures["stored"] - self.figures["processed"]


class ConnectionSampler(threading.Thread):
    """The most connections PostgreSQL served (all, and in a transaction) and the most clients
    PgBouncer held, sampled every half second while the load runs."""

    def __init__(self, db: Host, database: str) -> None:
        super().__init__(daemon=True)
        self.db, self.database, self.halt = db, database, threading.Event()
        self.server_max = self.active_max = self.clients_max = 0

    def run(self) -> None:
        import psycopg

        url = f"postgres://postgres@{self.db.address}:{services.POSTGRES_PORT}/postgres"
        try:
            self._sample(psycopg.connect(url, autocommit=True))
        except psycopg.Error:
            if not self.halt.is_set():  # a run stopped (Ctrl-C) takes the database away under it
                log("the connection sampler lost the database")

    def _sample(self, conn) -> None:
        with conn:
            while not self.halt.wait(0.5):
                total, active = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
                    "WHERE datname = %s AND backend_type = 'client backend'",
                    [self.database],
                ).fetchone()
                clients = self.db.probe(
                    ["ss", "-Htn", "state", "established", "sport", "=", f":{services.PGBOUNCER_PORT}"], timeout=10
                ).stdout.count("\n")
                self.server_max = max(self.server_max, total)
                self.active_max = max(self.active_max, active)
                self.clients_max = max(self.clients_max, clients)

    def stop(self) -> dict[str, int]:
        self.halt.set()
        self.join(timeout=10)
        return {"postgres": self.server_max, "in_transaction": self.active_max, "pgbouncer_clients": self.clients_max}


class Bench:
    def __init__(self, args, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.cluster = Cluster()
        self.databases = [f"layout{n}" for n in range(len(args.layouts) + (len(FAULTS) if args.faults else 0))]
        self.db: Host | None = None
        self.broker: Host | None = None

    # --- the fixed hosts ---------------------------------------------------------------------
    def start(self) -> None:
        self.cluster.create()
        self.db = self.cluster.add("db", NUMBERS["db"], CORES["db"])
        self.broker = self.cluster.add("broker", NUMBERS["broker"], CORES["broker"])
        services.postgres_start(self.db, self.tmp)
        services.pgbouncer_start(self.db, self.tmp, self.databases)
        services.redis_start(self.broker, self.tmp)
        direct = self.url("template_bench", direct=True)
        self.sql_admin("CREATE DATABASE template_bench")
        log("migrating the template database")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**self.env("template_bench"), "DATABASE_URL": direct, "DATABASE_SESSION_URL": direct},
            check=True,
        )
        django_setup({**self.env("template_bench"), "DATABASE_URL": direct})
        bodies, warm_up = self.tmp / "bodies.lua", self.tmp / "warm-up.lua"
        write_lua_bodies(bodies, workload(self.args.members, self.args.events))
        # Members of their own, so the measured run's deliveries are first deliveries, as make bench's.
        write_lua_bodies(warm_up, workload(2_000, 5_000, seed=7, first_id=5_000_000))
        self.lua_args = [str(bodies), str(self.args.threads_wrk)]
        self.warm_up_args = [str(warm_up), str(self.args.threads_wrk)]

    def url(self, database: str, *, direct: bool = False, session: bool = False) -> str:
        assert self.db is not None
        if direct:
            return f"postgres://postgres@{self.db.address}:{services.POSTGRES_PORT}/{database}"
        name = f"{database}_session" if session else database
        return f"postgres://postgres@{self.db.address}:{services.PGBOUNCER_PORT}/{name}"

    def sql_admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres", direct=True), autocommit=True) as conn:
            conn.execute(statement)

    def env(self, database: str) -> dict:
        assert self.broker is not None
        env = service_env(self.tmp)
        addresses = ",".join(f"10.231.0.{n}" for n in range(1, 60))
        env.update(
            DATABASE_URL=self.url(database),
            # The write-back's writer lock is a session lock: through PgBouncer's session pool.
            DATABASE_SESSION_URL=self.url(database, session=True),
            DATABASE_TRANSACTION_POOLING="true",
            CELERY_BROKER_URL=f"redis://{self.broker.address}:{services.REDIS_PORT}/0",
            REDIS_URL=f"redis://{self.broker.address}:{services.REDIS_PORT}/1",
            ALLOWED_HOSTS=addresses,
            NUM_PROXIES="1",
            # Production's (make bench shortens it): a worker cut off with tasks in hand gets them back
            # from Redis only after an hour, so its members' events must come back through the outbox
            # sweep, as they would in production.
            CELERY_VISIBILITY_TIMEOUT="3600",
        )
        return env

    # --- one layout ------------------------------------------------------------------------------
    def layout_run(self, number: int, webs_n: int, workers_n: int, fault: str | None) -> Outcome:
        database = self.databases[number]
        label = f"{webs_n} web x {workers_n} worker" + (f", {fault}" if fault else "")
        log(f"{label}: starting the hosts")
        self.sql_admin(f"CREATE DATABASE {database} TEMPLATE template_bench")
        self.redis_flush()
        env = self.env(database)
        added = []

        def add(role: str, index: int = 0) -> Host:
            name = f"{role}{index + 1}" if role in ("web", "worker") else role
            host = self.cluster.add(name, NUMBERS[role] + index, CORES[role])
            added.append(host)
            return host

        try:
            webs = [add("web", i) for i in range(webs_n)]
            workers = [add("worker", i) for i in range(workers_n)]
            balancer, load = add("lb"), add("load")
            for web in webs:
                services.web_start(web, self.tmp, env)
            for index, worker in enumerate(workers):
                services.worker_start(worker, self.tmp, env, beat=index == 0)
            for web in webs:
                services.wait_for_port(web.address, services.WEB_PORT, f"{web.name}'s granian")
            services.balancer_start(balancer, self.tmp, webs)
            self.use_database(database)
            self.warm_up(load, balancer)
            return self.measured(label, database, load, balancer, webs, workers, fault)
        finally:
            for host in reversed(added):
                self.cluster.drop(host.name)

    def redis_flush(self) -> None:
        import redis

        assert self.broker is not None
        redis.Redis(host=self.broker.address, port=services.REDIS_PORT).flushall()

    @staticmethod
    def use_database(database: str) -> None:
        from django.db import connection

        connection.close()
        connection.settings_dict["NAME"] = database

    def warm_up(self, load: Host, balancer: Host) -> None:
        """A few seconds of load until every host answers and every worker has started; then the
        backlog drains, so the measured run starts from a quiet service."""
        self.wrk(load, balancer, 5, self.warm_up_args)
        if not drain(timeout=180):
            raise RuntimeError("the warm-up's events were not all applied within 180 s")

    def wrk(
        self, load: Host, balancer: Host, seconds: int, lua_args: list[str] | None = None, ids: Path | None = None
    ) -> dict:
        argv = ["wrk", "-t", str(self.args.threads_wrk), "-c", str(self.args.connections), "-d", f"{seconds}s"]
        argv += ["--timeout", "10s", "-s", str(THROUGHPUT / "webhooks.lua")]
        argv += [
            f"http://{balancer.address}:{services.BALANCER_PORT}/webhooks/community",
            "--",
            *(lua_args or self.lua_args),
        ]
        if ids is not None:  # as fast as it goes, the connections per thread, where to write the event ids
            argv += ["0", str(max(self.args.connections // self.args.threads_wrk, 1)), str(ids)]
        out = load.run(argv, timeout=seconds + 60)
        match = re.search(r"^RESULT (.*)$", out.stdout, re.M)
        if match is None:
            raise RuntimeError(f"wrk printed no result: {out.stdout[-500:]} {out.stderr[-500:]}")
        return json.loads(match[1])

    def measured(self, label, database, load, balancer, webs, workers, fault) -> Outcome:
        hosts = [self.db, self.broker, balancer, load, *webs, *workers]
        cpu_before = {host.name: host.cpu_seconds() for host in hosts}
        sampler = ConnectionSampler(self.db, database)
        sampler.start()
        notes: list[str] = []
        injector = threading.Thread(target=self.inject, args=(fault, webs, workers, notes), daemon=True)
        started = time.time()
        if fault:
            injector.start()
        wal_start = self.wal_position()
        ids = self.tmp / f"ids-{database}"
        result = self.wrk(load, balancer, self.args.duration, ids=ids)
        busy = self.busy(hosts, cpu_before, result["seconds"])
        connections = sampler.stop()
        injector.join(timeout=60) if fault else None
        drained = self.drained(timeout=self.args.drain_timeout)
        figures = pipeline_figures(started)
        answered, unconfirmed = self.unconfirmed(ids)
        used = {host.name: host.cpu_seconds() - cpu_before[host.name] for host in hosts}
        requests = max(result["requests"], 1)
        cpu_ms = {role: 0.0 for role in ROLES}
        for name, seconds in used.items():
            role = next(r for r in ROLES if name.startswith(r))
            cpu_ms[role] += 1000 * seconds / requests
        wal_bytes = self.wal_since(wal_start)
        ok, detail = replay_check()
        return Outcome(
            label,
            result,
            figures,
            drained,
            cpu_ms,
            connections,
            ok,
            detail,
            wal_bytes,
            busy,
            answered,
            unconfirmed,
            notes,
        )

    @staticmethod
    def drained(timeout: float) -> bool:
        """Whether every stored event was applied and no more arrived for 2 s: polled with two
        index lookups, not make bench's count, as the database host's CPU is being measured."""
        from django.db import connection

        deadline, last, stable_since = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT (SELECT max(id) FROM detections_rawevent), EXISTS (SELECT 1 FROM detections_pendingevent)"
                )
                newest, pending = cursor.fetchone()
            if newest != last:
                last, stable_since = newest, time.monotonic()
            if not pending and time.monotonic() - stable_since >= 2:
                return True
            time.sleep(0.5)
        return False

    @staticmethod
    def unconfirmed(ids_prefix: Path) -> tuple[int, int]:
        """How many event ids were answered 202 (accepted or duplicate), and how many of them are
        not stored and applied."""
        from detections.models import RawEvent

        answered = set()
        for path in ids_prefix.parent.glob(f"{ids_prefix.name}-*.txt"):
            answered |= {int(line) for line in path.read_text().split()}
        if not answered:
            raise RuntimeError("wrk wrote no event ids: the lost check would prove nothing")
        applied = RawEvent.objects.filter(id__in=answered, processed_at__isnull=False).count()
        return len(answered), len(answered) - applied

    @staticmethod
    def busy(hosts: list[Host], cpu_before: dict[str, float], seconds: float) -> dict[str, float]:
        """Each kind of host's CPU during the load, as a share of its quota: near 1, it is what
        saturated."""
        used, quota = dict.fromkeys(ROLES, 0.0), dict.fromkeys(ROLES, 0.0)
        for host in hosts:
            role = next(r for r in ROLES if host.name.startswith(r))
            used[role] += host.cpu_seconds() - cpu_before[host.name]
            quota[role] += host.cores * seconds
        return {role: used[role] / quota[role] for role in ROLES if quota[role]}

    def wal_position(self) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres", direct=True), autocommit=True) as conn:
            return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])

    def wal_since(self, start: str) -> int:
        import psycopg

        with psycopg.connect(self.url("postgres", direct=True), autocommit=True) as conn:
            return int(conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [start]).fetchone()[0])

    def inject(self, fault: str, webs: list[Host], workers: list[Host], notes: list[str]) -> None:
        """The fault, a third into the load."""
        time.sleep(self.args.duration / 3)
        if fault == "worker-link-down":
            victim = workers[-1]
            victim.link_set(up=False)
            notes.append(f"{victim.name}'s link down at {self.args.duration / 3:.0f} s, left down")
        elif fault == "web-host-killed":
            victim = webs[0]
            count = victim.kill_all(signal.SIGKILL)
            notes.append(f"{victim.name}: {count} processes SIGKILLed at {self.args.duration / 3:.0f} s, not restarted")
        elif fault == "broker-partitioned":
            assert self.broker is not None
            self.broker.link_set(up=False)
            time.sleep(20)
            self.broker.link_set(up=True)
            notes.append(f"broker cut off from {self.args.duration / 3:.0f} s for 20 s")


def layouts(text: str) -> list[tuple[int, int]]:
    pairs = []
    for part in text.split(","):
        web, _, worker = part.partition("x")
        pairs.append((int(web), int(worker)))
    return pairs


def requests(outcome: Outcome) -> int:
    return max(outcome.wrk["requests"], 1)


def report(outcomes: list[Outcome]) -> None:
    print(
        f"\n{'layout':<38}{'accepted/s':>11}{'applied/s':>10}{'lag p99':>9}  "
        f"{'CPU ms per request: web / worker / db / broker / lb / load':<58}{'db conns':>10}{'clients':>8}"
    )
    for o in outcomes:
        accepted_s = (o.wrk["accepted"] + o.wrk["duplicate"] + o.wrk["ignored"]) / o.wrk["seconds"]
        cpu = " / ".join(f"{o.cpu_ms[r]:.2f}" for r in ROLES)
        cpu += f" = {sum(o.cpu_ms.values()):.2f}"
        print(
            f"{o.label:<38}{accepted_s:>11,.0f}{o.figures['processed_per_s']:>10,.0f}"
            f"{o.figures['lag_p99_s']:>8.2f}s  {cpu:<58}"
            f"{o.connections['postgres']:>6} ({o.connections['in_transaction']})"
            f"{o.connections['pgbouncer_clients']:>8}"
        )
        w = o.wrk
        print(
            f"  replies: {w['accepted']:,} accepted, {w['duplicate']:,} duplicate, {w['other']:,} other "
            f"({w['unavailable']:,} x 503, {w['server_error']:,} other 5xx), {w['errors']:,} socket errors; "
            f"backlog {'drained' if o.drained else 'NOT drained'}"
        )
        busiest = max(o.busy, key=o.busy.get)
        print(
            f"  WAL {o.wal_bytes / requests(o):,.0f} bytes per request; CPU during the load, share of the "
            "quota: " + ", ".join(f"{role} {share:.0%}" for role, share in o.busy.items()) + f" (busiest: {busiest})"
        )
        for note in o.notes:
            print(f"  fault: {note}")
        verdict = "OK" if o.replay_ok else "FAILED"
        print(
            f"  lost: {o.lost} (each of the {o.answered:,} event ids answered 202 checked); "
            f"replay check: {verdict} — {o.replay_detail}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layouts", type=layouts, default=layouts("1x1,1x2,2x4,3x5"))
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads-wrk", type=int, default=2)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--drain-timeout", type=int, default=300)
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument("--budget", type=int, default=3600, help="seconds for the whole run, then it stops")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the cluster bench needs root: network namespaces and cgroups")
    for binary in ("wrk", "haproxy", "pgbouncer", "redis-server"):
        services.binary_ensure(binary)

    def stop(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGINT too: a shell starts a background job with SIGINT ignored, and Python then leaves it so.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, stop)
    signal.alarm(args.budget)
    tmp = Path(tempfile.mkdtemp(prefix="captpathfinder-cluster-"))
    bench = Bench(args, tmp)
    outcomes: list[Outcome] = []
    try:
        bench.start()
        print(
            f"machine: {os.cpu_count()} cores; hosts' cores: "
            + ", ".join(f"{role} {cores}" for role, cores in CORES.items())
            + f"; wrk {args.threads_wrk} x {args.connections} connections for {args.duration} s per run; "
            f"{args.events:,} bodies over {args.members:,} members; PgBouncer transaction pooling"
        )
        runs = [(webs, workers, None) for webs, workers in args.layouts]
        runs += [(*FAULT_LAYOUT, fault) for fault in FAULTS] if args.faults else []
        for number, (webs, workers, fault) in enumerate(runs):
            outcome = bench.layout_run(number, webs, workers, fault)
            outcomes.append(outcome)
            report([outcome])
        print("\nall runs")
        report(outcomes)
        fine = all(o.lost == 0 and o.replay_ok and o.drained for o in outcomes)
        return 0 if fine else 1
    except KeyboardInterrupt as stopped:
        log(f"stopped ({stopped}): removing the cluster")
        return 130
    finally:
        signal.alarm(0)
        bench.cluster.remove()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
