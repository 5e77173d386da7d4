"""Replies timed one by one beside the load, so a run's tail can be told apart from its disk's stalls.

wrk reports latency percentiles for the whole run but not when each reply came. `ReplySampler`
posts one webhook of its own every few milliseconds on a keep-alive connection and keeps when
each was sent and how long it took; `tail_line` sets those replies against the `DiskProbe`'s
stalls. A reply that overlaps a stall, or the second after one (while the queue it built drains),
waited for the disk; the others show what the software does on a disk that keeps up. wrk's p99
stays the benchmark's figure: this only says where its tail comes from.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time

from benchmarks.throughput.disk import DiskProbe

RECOVERY_SECONDS = 1.0  # replies within this long after a stall still queue behind it


class ReplySampler(threading.Thread):
    def __init__(self, port: int, credentials: tuple[str, str], bodies: list[str], interval: float, path: str) -> None:
        super().__init__(daemon=True)
        self.port, self.bodies, self.interval, self.path = port, bodies, interval, path
        self.auth = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self.replies: list[tuple[float, float]] = []  # (sent at, seconds), perf_counter clock
        self.accepted = self.failed = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json", "Authorization": self.auth}
        for body in self.bodies:
            if self._stop_event.wait(self.interval):
                break
            sent = time.perf_counter()
            try:
                connection.request("POST", self.path, body, headers)
                response = connection.getresponse()
                reply = response.read()
            except OSError:
                self.failed += 1
                connection.close()  # reconnects on the next request
                continue
            self.replies.append((sent, time.perf_counter() - sent))
            if response.status == 202 and json.loads(reply)["status"] == "accepted":
                self.accepted += 1
            elif response.status != 202:
                self.failed += 1
        connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _p99(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    ordered = sorted(seconds)
    return f"{1000 * ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)]:.1f} ms"


def replies_outside(
    replies: list[tuple[float, float]], stalls: list[tuple[float, float]], before: float = 0.0
) -> list[float]:
    """The durations of the replies that overlap no stall nor the RECOVERY_SECONDS after one.

    `before`: how long a stall may have begun before the probe's write that met it (the probe's
    interval)."""
    windows = [(start - before, start + seconds + RECOVERY_SECONDS) for start, seconds in stalls]
    return [
        seconds for sent, seconds in replies if not any(sent < end and sent + seconds > start for start, end in windows)
    ]


def tail_line(sampler: ReplySampler, probe: DiskProbe) -> str:
    replies = sampler.replies
    outside = replies_outside(replies, probe.stalls, before=probe.interval)
    rate = 1 / sampler.interval
    return (
        f"replies timed one by one ({rate:.0f}/s on top of the load): p99 {_p99([s for _, s in replies])} "
        f"of {len(replies):,}; outside the disk's stalls (from a stall's start to {RECOVERY_SECONDS:.0f} s "
        f"after it): p99 {_p99(outside)} of {len(outside):,}" + (f"; {sampler.failed} failed" if sampler.failed else "")
    )
