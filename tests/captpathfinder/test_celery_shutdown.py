"""A worker asked to stop finishes the task it runs, also when the whole process group hears it."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from captpathfinder.celery import app
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def test_sigterm_to_the_workers_process_group_lets_the_running_task_finish(tmp_path):
    # Given a prefork worker in a process group of its own (as honcho and supervisord start one)
    queue = f"nap-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "captpathfinder", "worker", "--loglevel=INFO"]
    command += ["--pool=prefork", "--concurrency=1", f"--queues={queue}", f"--hostname={queue}@localhost"]
    command += ["--include=tests.captpathfinder.napping_task", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat"]
    worker = subprocess.Popen(
        command,
        cwd=ROOT,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="captpathfinder.settings.test"),
        stdout=open(log_path, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    marker = tmp_path / "nap"
    try:
        wait_until(lambda: " ready." in log_path.read_text(), timeout=90, message="the worker to be ready")
        # and a task of a few seconds under way in its pool process
        app.send_task("tests.nap", args=[str(marker), 3.0], queue=queue)
        wait_until(Path(f"{marker}.started").exists, timeout=60, message="the task to start")

        # When the whole group gets SIGTERM (honcho, `kill -TERM -<pgid>`)
        os.killpg(worker.pid, signal.SIGTERM)
        code = worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

    # Then the main process shuts down warm: the task finishes, and no pool process was killed
    log = log_path.read_text()
    assert Path(f"{marker}.done").exists(), log[-3000:]
    assert "worker: Warm shutdown (MainProcess)" in log
    assert "exited with 'signal" not in log and "WorkerLostError" not in log, log[-3000:]
    assert code == 0
