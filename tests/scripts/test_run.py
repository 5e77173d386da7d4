"""scripts/run.py: on a stop, honcho gives each process run.py's grace, not its own 5 s."""

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_until
from tests.fixtures.clock import real_clock_environ

ROOT = Path(__file__).resolve().parents[2]

# Stops 7 s after SIGTERM, as a worker finishing its task would; says when it listens for it.
SLOW = (
    "import signal, sys, time; "
    "signal.signal(signal.SIGTERM, lambda *_: (time.sleep(7), sys.exit(0))); "
    "print('ready', flush=True); time.sleep(120)"
)


def test_honcho_waits_the_grace_for_a_process_that_takes_its_time_to_stop(tmp_path, monkeypatch):
    # Given run.py's honcho, with a process that needs longer than honcho's own 5 s to stop
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # run.py imports pgserver as a script does
    from scripts import run

    (tmp_path / "Procfile").write_text(f'slow: exec "{sys.executable}" -c "{SLOW}"\nquick: exec sleep 120\n')
    log_path = tmp_path / "honcho.log"
    command = [sys.executable, "-c", run.HONCHO, str(run.STOP_GRACE_SECONDS), "-f", "Procfile", "start"]
    honcho = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=open(log_path, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=real_clock_environ(),
    )
    try:
        wait_until(lambda: "| ready" in log_path.read_text(), timeout=30, message="the slow process to listen")

        # When it is asked to stop (as run.py asks on Ctrl-C)
        honcho.send_signal(signal.SIGTERM)
        honcho.wait(timeout=60)
    finally:
        if honcho.poll() is None:
            honcho.terminate()
            honcho.wait(timeout=30)

    # Then the slow process ends by itself; nothing is killed
    log = log_path.read_text()
    assert "slow.1 stopped (rc=0)" in log, log
    assert "SIGKILL" not in log, log
