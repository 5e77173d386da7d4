"""BackgroundCall: the caller never waits, requests during a call coalesce, forks get their own thread."""

import contextvars
import subprocess
import sys
import threading
from pathlib import Path

from core.background import BackgroundCall
from tests.fixtures.clock import real_clock_environ

ROOT = Path(__file__).resolve().parents[2]


class BlockingFunction:
    """Records each call and, while `gate` is closed, does not return."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def __call__(self) -> None:
        self.calls.append(REQUEST_ID.get())
        self.started.release()
        self.gate.wait(timeout=30)


REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def test_the_caller_does_not_wait_for_the_call_and_requests_meanwhile_coalesce_into_one_more():
    function = BlockingFunction()
    call = BackgroundCall(function, name="test-background-call")

    call.request()
    assert function.started.acquire(timeout=10), "the first request is called on the thread"
    for _ in range(5):
        call.request()  # returns although the call in progress does not
    assert function.calls == [None]

    assert not call.wait_idle(timeout=0.1)
    function.gate.set()
    assert call.wait_idle(timeout=10)
    assert len(function.calls) == 2  # one more call for the five requests made during the first


def test_each_call_runs_in_the_context_of_the_latest_request():
    function = BlockingFunction()
    function.gate.set()
    call = BackgroundCall(function, name="test-background-call")

    token = REQUEST_ID.set("request-a")
    try:
        call.request()
        assert call.wait_idle(timeout=10)
    finally:
        REQUEST_ID.reset(token)

    assert function.calls == ["request-a"]
    assert REQUEST_ID.get() is None  # the caller's own context is untouched


def test_an_exception_is_logged_and_the_thread_goes_on(caplog):
    calls = []

    def failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("broker gone")

    call = BackgroundCall(failing_once, name="test-background-call")
    call.request()
    assert call.wait_idle(timeout=10)
    assert "test-background-call failed" in caplog.text and "broker gone" in caplog.text
    call.request()
    assert call.wait_idle(timeout=10)
    assert len(calls) == 2


# Run in a fresh interpreter with the real clock: a fork from this threaded test process, then Python
# in the child, can hang for good on libfaketime's clock lock under make test-calendar.
FORKED_CHILD = """
import os, sys, threading
from core.background import BackgroundCall

read_end, write_end = os.pipe()
done = threading.Event()

def report_pid():
    os.write(write_end, f"{os.getpid()}\\n".encode())
    done.set()

call = BackgroundCall(report_pid, name="test-background-call")
call.request()  # the parent's thread is running before the fork
assert call.wait_idle(timeout=10)
done.clear()
child = os.fork()
if child == 0:
    call.request()
    os._exit(0 if done.wait(timeout=10) else 1)
_, status = os.waitpid(child, 0)
os.close(write_end)
with os.fdopen(read_end) as reader:
    pids = [int(line) for line in reader.read().split()]
print(os.waitstatus_to_exitcode(status), pids == [os.getpid(), child])
"""


def test_a_forked_child_calls_on_a_thread_of_its_own():
    result = subprocess.run(
        [sys.executable, "-c", FORKED_CHILD],
        cwd=ROOT,
        env=real_clock_environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    # The child exited 0 (its own thread made the call) and each process reported its own pid.
    assert result.stdout.split() == ["0", "True"], result.stderr
