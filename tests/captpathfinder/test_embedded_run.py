"""`make run` (scripts/run.py) on its embedded defaults: PostgreSQL from the wheel, a filesystem broker;
the service stops whole when one of its processes is lost."""

import json
import os
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

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_run_serves_the_webhook_with_nothing_but_python(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "PG_BIN"}}
    env.update(
        DJANGO_SETTINGS_MODULE="captpathfinder.settings.local",
        CAPTPATHFINDER_VAR_DIR=str(tmp_path),
        WEB_PORT=str(port),
        # No system PostgreSQL on the way: the server comes from the wheel or not at all.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
    )
    run = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "run.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
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
        worker = next(
            child
            for child in psutil.Process(run.pid).children(recursive=True)
            if "celery" in " ".join(child.cmdline()) and "worker" in child.cmdline()
        )
        worker.kill()
        assert run.wait(timeout=60) != 0
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
            run.wait(timeout=60)

    log = (tmp_path / "run.log").read_text()
    assert "PostgreSQL stopped" in log, log[-2000:]
    with pytest.raises(psycopg.OperationalError):  # stopped with the service
        psycopg.connect(database, connect_timeout=2)
