"""A task that takes its time, for test_celery_shutdown.py: the worker it starts imports this (-I)."""

import time
from pathlib import Path

from captpathfinder.celery import app


@app.task(name="tests.nap", soft_time_limit=60, time_limit=90)
def nap(marker: str, seconds: float) -> None:
    Path(f"{marker}.started").touch()
    time.sleep(seconds)
    Path(f"{marker}.done").touch()
