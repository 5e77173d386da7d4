"""benchmarks/cluster/hosts.py: a host is reachable at its own address, held to its CPU quota,
cut off when its link is down, and leaves nothing behind."""

import sys
import time
from pathlib import Path

import pytest

from benchmarks.cluster.hosts import Cluster, Site, ip

SERVE = "import socket; s = socket.create_server(('{address}', 7000)); s.accept()[0].send(b'hi'); s.close()"
SPIN = "import time; end = time.monotonic() + 1.0\nwhile time.monotonic() < end: pass"
# Tries for up to 10 s: the server may not listen yet.
REACH = (
    "import socket, time\n"
    "deadline = time.monotonic() + {patience}\n"
    "while True:\n"
    "    try:\n"
    "        print(socket.create_connection(('{address}', 7000), timeout=2).recv(2).decode()); break\n"
    "    except ConnectionRefusedError:\n"
    "        if time.monotonic() > deadline: raise\n"
    "        time.sleep(0.1)\n"
)


# A site of the tests' own: a make bench-cluster running meanwhile keeps its hosts.
SITE = Site("cptest", "10.232.0")


@pytest.fixture
def cluster():
    made = Cluster(SITE)
    made.create()
    yield made
    made.remove()


def test_hosts_reach_each_other_at_their_own_addresses(cluster, tmp_path):
    server, client = cluster.add("srv", 201, 1.0), cluster.add("cli", 202, 1.0)
    listening = server.start(
        [sys.executable, "-c", SERVE.format(address=server.address)], tmp_path / "s.log", env={}, cwd=tmp_path
    )

    reply = client.run([sys.executable, "-c", REACH.format(address=server.address, patience=10)], timeout=30)

    assert reply.stdout.strip() == "hi", reply.stderr
    listening.wait(timeout=10)


def test_a_host_gets_no_more_cpu_than_its_quota(cluster):
    host = cluster.add("slow", 203, 0.2)
    before = host.cpu_seconds()

    host.run([sys.executable, "-c", SPIN], timeout=30)  # a second of wall time, spinning

    used = host.cpu_seconds() - before
    # 0.2 of a core for the spinning second, plus the interpreter's start, itself slowed to 0.2.
    assert 0.1 < used < 0.6, used


def test_a_host_whose_link_is_down_is_silent(cluster, tmp_path):
    server, client = cluster.add("srv", 204, 1.0), cluster.add("cli", 205, 1.0)
    listening = server.start(
        [sys.executable, "-c", SERVE.format(address=server.address)], tmp_path / "s.log", env={}, cwd=tmp_path
    )
    listening_yet = server.probe(["ss", "-Hltn", "sport", "=", ":7000"], timeout=10)
    deadline = time.monotonic() + 10
    while not listening_yet.stdout.strip() and time.monotonic() < deadline:
        time.sleep(0.1)
        listening_yet = server.probe(["ss", "-Hltn", "sport", "=", ":7000"], timeout=10)
    server.link_set(up=False)

    reply = client.run([sys.executable, "-c", REACH.format(address=server.address, patience=0)], timeout=30)

    assert reply.returncode != 0 and "timed out" in reply.stderr, reply.stderr
    server.kill_all()
    listening.wait(timeout=10)


def test_nothing_is_left_after_the_cluster_is_removed(cluster):
    host = cluster.add("gone", 206, 0.5)
    host.start(["sleep", "60"], Path("/dev/null"), env={}, cwd=Path("/"))

    cluster.remove()

    assert f"{SITE.prefix}-gone" not in ip("netns", "list").stdout
    assert ip("link", "show", SITE.bridge, check=False).returncode != 0
    assert not any(folder.exists() for folder in SITE.cgroup_dirs("gone"))
