"""What the disk did during a load run: with durable commits a webhook's reply waits for its WAL
flush, so a disk that stalls stalls every reply in flight, whatever the software does.

`DiskProbe` is the disk's own baseline, measured beside the database during the run: a small write
and fdatasync every 50 ms (20 flushes/s against PostgreSQL's several hundred), timed. Stalls the
probe sees are the machine's storage, not CaptPathfinder; the webhook's tail shows them too.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

STALL_SECONDS = 0.05
_BLOCK = b"x" * 2048  # about one commit's WAL


class DiskProbe(threading.Thread):
    def __init__(self, directory: Path, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.path, self.interval = directory / "disk-probe", interval
        self.samples: list[tuple[float, float]] = []  # (started at, seconds), perf_counter clock
        self._stop_event = threading.Event()

    def run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while not self._stop_event.wait(self.interval):
                started = time.perf_counter()
                os.pwrite(fd, _BLOCK, 0)
                os.fdatasync(fd)
                self.samples.append((started, time.perf_counter() - started))
        finally:
            os.close(fd)

    @property
    def stalls(self) -> list[tuple[float, float]]:
        return [(started, seconds) for started, seconds in self.samples if seconds >= STALL_SECONDS]

    def stop(self) -> str:
        self._stop_event.set()
        self.join()
        times = sorted(seconds for _, seconds in self.samples) or [0.0]
        stalls = [seconds for _, seconds in self.stalls]
        return (
            f"disk probe ({len(_BLOCK) // 1024} kB write + fdatasync every {self.interval * 1000:.0f} ms, "
            "beside the database): "
            f"p50 {1000 * times[len(times) // 2]:.2f} ms, max {1000 * times[-1]:.0f} ms; "
            f"{len(stalls)} stall(s) of {STALL_SECONDS * 1000:.0f} ms or more"
            + (f", {1000 * sum(stalls):.0f} ms in all" if stalls else "")
        )


def disk_figures() -> Counter:
    """PostgreSQL's WAL written and flushed so far, and the raw event updates (processed marks) that
    were HOT; the machine's time idle waiting for the disk, and the time the hypervisor ran something
    else on its cores (steal: a run on slower cores)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT wal_bytes, wal_fpi FROM pg_stat_wal")
        wal_bytes, full_pages = cursor.fetchone()
        # Since PostgreSQL 18 the WAL's flushes are counted with the other I/O.
        cursor.execute("SELECT coalesce(sum(fsyncs), 0) FROM pg_stat_io WHERE object = 'wal'")
        (syncs,) = cursor.fetchone()
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'detections_rawevent'")
        updates, hot_updates = cursor.fetchone()
    with open("/proc/stat") as handle:
        ticks = [int(n) for n in handle.readline().split()[1:]]
    return Counter(
        wal_bytes=int(wal_bytes),
        full_pages=full_pages,
        syncs=int(syncs),
        updates=updates,
        hot_updates=hot_updates,
        iowait=ticks[4],
        steal=ticks[7],
        all_ticks=sum(ticks[:8]),
    )


def disk_line(used: Counter, run: dict) -> str:
    requests, seconds = max(run["requests"], 1), max(run["seconds"], 0.001)
    iowait, steal = (100 * used[key] / max(used["all_ticks"], 1) for key in ("iowait", "steal"))
    return (
        f"disk: WAL {used['wal_bytes'] / requests / 1024:.1f} kB per request ({used['full_pages'] / requests:.2f} "
        f"full-page images), {used['syncs'] / seconds:,.0f} WAL flushes/s, "
        f"{100 * used['hot_updates'] / max(used['updates'], 1):.0f} % of processed marks HOT; "
        f"the machine idle waiting for the disk {iowait:.1f} % of the time; "
        f"its cores taken by the hypervisor (steal) {steal:.1f} %"
    )
