"""`make run`'s embedded default: SQLite and a filesystem broker, web + worker + beat under honcho."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_procfile_serves_the_webhook_on_sqlite_with_no_other_service(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="captpathfinder.settings.local",
        CAPTPATHFINDER_VAR_DIR=str(tmp_path),
        WEB_PORT=str(port),
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    honcho = subprocess.Popen(
        [str(Path(sys.executable).parent / "honcho"), "-f", "Procfile.dev", "start"],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "honcho.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
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

        status, reply = wait_until(post, timeout=60, interval=0.5, message="the web process to answer")
        assert (status, reply["status"]) == (202, "accepted")

        def member_level():
            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                row = db.execute("SELECT level FROM detections_seniormember WHERE user_id = '2000'").fetchone()
            return row and row[0]

        assert wait_until(member_level, timeout=60, message="the worker to apply the event") == "vp"
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:  # the ORM intake path's pending row, cleared
            assert db.execute("SELECT count(*) FROM detections_pendingevent").fetchone()[0] == 0
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        honcho.wait(timeout=30)
