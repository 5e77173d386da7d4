"""`make run` (scripts/run.py) on its embedded defaults: PostgreSQL from the wheel, a filesystem broker;
the service stops whole when one of its processes is lost, and cleanly when it is asked to."""

import contextlib
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.conftest import wait_until
from tests.fixtures.clock import real_clock_environ

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_start(tmp_path, port: int, command: list[str], *, terminal: int | None = None) -> subprocess.Popen:
    """`command` (scripts/run.py or make run) on the embedded defaults, its output in run.log. With
    `terminal` (a pty's follower end), that is its controlling terminal and stdin, as in a shell."""
    external = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "PG_BIN"}
    env = {k: v for k, v in real_clock_environ().items() if k not in external}
    env.update(
        DJANGO_SETTINGS_MODULE="captpathfinder.settings.local",
        CAPTPATHFINDER_VAR_DIR=str(tmp_path),
        WEB_PORT=str(port),
        PYTHONUNBUFFERED="1",  # as the Makefile exports it
        # No system PostgreSQL on the way: the server comes from the wheel or not at all.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
    )
    # A session and process group of its own, as a terminal gives make run. With a terminal, that is
    # the session's controlling terminal and its process group the terminal's foreground: util-linux's
    # setsid does both before it execs the command. Not a preexec_fn: Python code between fork and
    # exec can hang for good in this threaded test process under make test-calendar's libfaketime.
    return subprocess.Popen(
        ["setsid", "--ctty", *command] if terminal is not None else command,
        cwd=ROOT,
        env=env,
        stdin=terminal if terminal is not None else subprocess.DEVNULL,
        stdout=open(tmp_path / "run.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=terminal is None,  # setsid makes the session when there is a terminal
    )


def run_stop(run: subprocess.Popen) -> None:
    """Clean-up after a failed test: SIGTERM to every process the run started (make run puts
    scripts/run.py in a process group of its own), and wait for it."""
    if run.poll() is None:
        for process in [psutil.Process(run.pid), *psutil.Process(run.pid).children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        run.wait(timeout=150)


def beat_set_up(tmp_path) -> bool:
    """Whether beat has written its schedule's last entry as it sets up. A SIGTERM before that may not
    stop it: its handler writes the schedule on the connection a set-up query is using, and the
    set-up swallows the error that follows (celery beat with django-celery-beat)."""
    with psycopg.connect(f"postgresql://postgres@/captpathfinder?host={tmp_path / 'postgres'}") as db:
        query = "SELECT 1 FROM django_celery_beat_periodictask WHERE name = 'celery.backend_cleanup'"
        return db.execute(query).fetchone() is not None


def test_make_run_serves_the_webhook_with_nothing_but_python(tmp_path):
    port = free_port()
    run = run_start(tmp_path, port, [sys.executable, "scripts/run.py"])
    database = f"postgresql://postgres@/captpathfinder?host={tmp_path / 'postgres'}"
    try:
        body = {"userId": "2000", "username": "John Doe", "profileField": "Job Title", "value": "VP of Sales"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/community",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )

        def post():
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback only)
                    return response.status, json.load(response)
            except OSError:
                return None

        status, reply = wait_until(post, timeout=120, interval=0.5, message="the web process to answer")
        assert (status, reply["status"]) == (202, "accepted")

        def member_level():
            with psycopg.connect(database) as db:
                row = db.execute("SELECT level FROM detections_seniormember WHERE user_id = '2000'").fetchone()
            return row and row[0]

        assert wait_until(member_level, timeout=60, message="the worker to apply the event") == "vp"
        with psycopg.connect(database) as db:
            server = db.execute("SHOW data_directory").fetchone()[0]
            assert db.execute("SELECT count(*) FROM detections_pendingevent").fetchone()[0] == 0
        assert Path(server) == tmp_path / "postgres"  # the embedded server, its data under var/

        # A process lost (the worker, killed) does not leave the rest running without it: honcho
        # stops the others, and make run ends, PostgreSQL with it.
        wait_until(lambda: beat_set_up(tmp_path), timeout=60, interval=0.5, message="beat to set up")
        worker = next(
            child
            for child in psutil.Process(run.pid).children(recursive=True)
            if "celery" in " ".join(child.cmdline()) and "worker" in child.cmdline()
        )
        worker.kill()
        assert run.wait(timeout=60) != 0
    finally:
        run_stop(run)

    log = (tmp_path / "run.log").read_text()
    assert "PostgreSQL stopped" in log, log[-2000:]
    try:
        psycopg.connect(database, connect_timeout=2).close()
    except psycopg.OperationalError:
        pass  # stopped with the service
    else:
        pytest.fail(f"PostgreSQL still answers after the service ended:\n{log[-3000:]}")


@pytest.mark.parametrize(
    ("command", "stop"),
    [
        pytest.param([sys.executable, "scripts/run.py"], "SIGTERM", id="run.py-SIGTERM"),
        # Ctrl-C typed in make run's terminal: the terminal sends SIGINT to its foreground process group.
        pytest.param(
            ["make", "--no-print-directory", "-o", ".venv/.installed", f"PY={sys.executable}", "run"],
            "Ctrl-C",
            id="make-run-Ctrl-C",
        ),
    ],
)
def test_a_requested_stop_lets_the_worker_finish_and_is_no_error(tmp_path, command, stop):
    port = free_port()
    terminal, follower = pty.openpty()
    run = run_start(tmp_path, port, command, terminal=follower if stop == "Ctrl-C" else None)
    os.close(follower)
    log_path = tmp_path / "run.log"
    try:

        def web_answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):  # noqa: S310 (loopback)
                    return True
            except OSError:
                return False

        try:
            wait_until(web_answers, timeout=120, interval=0.5, message="the web process to answer")
            wait_until(lambda: " ready." in log_path.read_text(), timeout=60, message="the worker to be ready")
            wait_until(lambda: beat_set_up(tmp_path), timeout=60, interval=0.5, message="beat to set up")
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{log_path.read_text()[-3000:]}") from None
        if stop == "Ctrl-C":
            os.write(terminal, b"\x03")  # the terminal's interrupt character (stty intr ^C)
        else:
            os.killpg(run.pid, signal.SIGTERM)
        code = run.wait(timeout=150)  # the worker's grace (scripts/run.py: 100 s), then PostgreSQL's stop
    finally:
        run_stop(run)
        os.close(terminal)

    log = log_path.read_text()
    tail = log[-3000:]
    run_lines = [line for line in log.splitlines() if line.startswith("[run] ")]
    assert [line for line in run_lines if "stopped" in line] == [
        "[run] stopped: the service's processes and PostgreSQL"
    ], tail
    assert f"[run] {'SIGINT' if stop == 'Ctrl-C' else 'SIGTERM'}: stopping" in log, tail
    # honcho heard one request (from run.py) and every process stopped once, none by SIGKILL.
    assert len(re.findall(r"\| SIG\w+ received", log)) == 1, tail
    for name in ("web.1", "worker.1", "beat.1"):
        assert len(re.findall(rf"\| {re.escape(name)} stopped \(rc=", log)) == 1, tail
    assert "SIGKILL" not in log, tail
    # Celery's warm shutdown in the main process; no pool process killed by the same SIGTERM.
    assert "worker: Warm shutdown (MainProcess)" in log, tail
    assert "worker.1 stopped (rc=0)" in log, tail
    assert "exited with 'signal" not in log and "WorkerLostError" not in log, tail
    assert "beat.1 stopped (rc=0)" in log, tail
    assert log.count("AXES: BEGIN") <= 1
    assert "] Error" not in log and "Interrupt" not in log, tail
    assert code == 0, tail  # make too: the Ctrl-C reached run.py alone, which stopped everything and exited 0
