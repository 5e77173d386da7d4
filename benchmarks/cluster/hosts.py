"""Hosts on this machine: a Linux network namespace each, with its own address on a private
bridge, and a CPU quota (cgroup v1 `cpu`) with its CPU counted (`cpuacct`).

Every name starts with `cpbench`, so a run that was killed outright is cleaned up by the next one
(`Cluster.clear_leftovers`). Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), as the bench's `make`
target runs here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Site:
    """Where a cluster lives: the prefix of its names (namespaces, links, cgroups) and its /24.
    The bench has one; the tests of this module another, so they never touch a running bench."""

    prefix: str
    subnet: str

    @property
    def bridge(self) -> str:
        return f"{self.prefix}0"

    @property
    def bridge_address(self) -> str:
        """The orchestrator's own address on the bridge."""
        return f"{self.subnet}.254"

    def cgroup_dirs(self, name: str) -> tuple[Path, Path]:
        return CGROUP_ROOT / "cpu" / self.prefix / name, CGROUP_ROOT / "cpuacct" / self.prefix / name


BENCH = Site("cpbench", "10.231.0")
SUBNET = BENCH.subnet
CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


IP = shutil.which("ip") or "/usr/sbin/ip"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([IP, *args], check=check, capture_output=True, text=True)


@dataclass
class Host:
    """One host: `name` (its namespace is cpbench-<name>), `number` (its address is 10.231.0.<number>)
    and `cores`, its CPU quota."""

    name: str
    number: int
    cores: float
    site: Site = BENCH
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.site.subnet}.{self.number}"

    @property
    def namespace(self) -> str:
        return f"{self.site.prefix}-{self.name}"

    @property
    def link(self) -> str:
        """The bridge's end of the host's cable (interface names are at most 15 characters)."""
        return f"{self.site.prefix[:3]}-{self.name}"[:15]

    def create(self) -> None:
        ip("netns", "add", self.namespace)
        ip("link", "add", self.link, "type", "veth", "peer", "name", "eth0", "netns", self.namespace)
        ip("link", "set", self.link, "master", self.site.bridge, "up")
        inside = ["netns", "exec", self.namespace, "ip"]
        ip(*inside, "addr", "add", f"{self.address}/24", "dev", "eth0")
        ip(*inside, "link", "set", "eth0", "up")
        ip(*inside, "link", "set", "lo", "up")
        cpu, cpuacct = self.site.cgroup_dirs(self.name)
        for folder in (cpu, cpuacct):
            folder.mkdir(parents=True, exist_ok=True)
        (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(self.cores * CPU_PERIOD_US)))

    def command(self, argv: list[str], *, user: str | None = None) -> list[str]:
        """`argv` run on this host: in its cgroups (so every process it starts counts there) and its
        namespace, as `user` when given (PostgreSQL and PgBouncer refuse to run as root)."""
        cpu, cpuacct = self.site.cgroup_dirs(self.name)
        # The cgroups first: `ip netns exec` mounts the namespace's own /sys, without them.
        join = f'echo $$ > {cpu}/cgroup.procs && echo $$ > {cpuacct}/cgroup.procs && exec "$@"'
        run_as = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", user, "--"] if user else []
        return ["/bin/sh", "-c", join, "sh", IP, "netns", "exec", self.namespace, *run_as, *argv]

    def start(self, argv: list[str], log_path: Path, *, env: dict, cwd: Path, user: str | None = None):
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                self.command(argv, user=user),
                cwd=cwd,
                env={"PATH": os.environ["PATH"], **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(proc)
        return proc

    def run(self, argv: list[str], *, env: dict | None = None, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), env=env, capture_output=True, text=True, timeout=timeout)

    def probe(self, argv: list[str], *, timeout: float) -> subprocess.CompletedProcess:
        """`argv` in the host's namespace but outside its cgroups: the bench's own look at the host
        is not the host's work, and must not count in its CPU."""
        return subprocess.run(
            [IP, "netns", "exec", self.namespace, *argv], capture_output=True, text=True, timeout=timeout
        )

    def pids(self) -> list[int]:
        cpu, _ = self.site.cgroup_dirs(self.name)
        with contextlib.suppress(OSError):
            return [int(pid) for pid in (cpu / "cgroup.procs").read_text().split()]
        return []

    def cpu_seconds(self) -> float:
        _, cpuacct = self.site.cgroup_dirs(self.name)
        return int((cpuacct / "cpuacct.usage").read_text()) / 1e9

    def kill_all(self, sig: int = signal.SIGKILL) -> int:
        """Send `sig` to every process of the host; how many there were. Also to the process groups
        this object started, one of which may not have joined the host's cgroup yet."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
        return len(pids)

    def link_set(self, up: bool) -> None:
        """Plug the host's cable in or pull it out: its peers then see silence, not a refusal."""
        ip("link", "set", self.link, "up" if up else "down")

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to everything of the host, SIGKILL to what is left after `grace` seconds."""
        self.kill_all(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.kill_all(signal.SIGKILL)
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def remove(self) -> None:
        self.stop(grace=5)
        ip("link", "del", self.link, check=False)
        ip("netns", "del", self.namespace, check=False)
        for folder in self.site.cgroup_dirs(self.name):
            _cgroup_remove(folder)


@contextlib.contextmanager
def signals_held():
    """The signals that stop a run (Ctrl-C, SIGTERM, the time budget) wait while hosts are taken
    away, so that none is left half removed; they arrive after."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGALRM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _cgroup_remove(folder: Path) -> None:
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        try:
            folder.rmdir()
        except OSError:  # a process still dying in it
            time.sleep(0.2)


class Cluster:
    """The bridge and the hosts on it; `remove` takes every trace away."""

    def __init__(self, site: Site = BENCH) -> None:
        self.site = site
        self.hosts: dict[str, Host] = {}

    def create(self) -> None:
        if not (CGROUP_ROOT / "cpu" / "cpu.cfs_quota_us").exists():
            raise OSError(f"no cgroup v1 cpu controller at {CGROUP_ROOT / 'cpu'}: the quotas need one")
        self.clear_leftovers()
        ip("link", "add", self.site.bridge, "type", "bridge")
        ip("addr", "add", f"{self.site.bridge_address}/24", "dev", self.site.bridge)
        ip("link", "set", self.site.bridge, "up")

    def add(self, name: str, number: int, cores: float) -> Host:
        host = Host(name, number, cores, self.site)
        self.hosts[name] = host  # first, so that a host made halfway is removed with the rest
        host.create()
        return host

    def drop(self, name: str) -> None:
        with signals_held():
            self.hosts[name].remove()
            del self.hosts[name]

    def remove(self) -> None:
        with signals_held():
            for name in list(self.hosts):
                self.drop(name)
        ip("link", "del", self.site.bridge, check=False)
        for kind in ("cpu", "cpuacct"):
            _cgroup_remove(CGROUP_ROOT / kind / self.site.prefix)

    def clear_leftovers(self) -> None:
        """What a run killed outright (SIGKILL, a crash) left: its namespaces, links and cgroups."""
        prefix = f"{self.site.prefix}-"
        for line in ip("netns", "list").stdout.splitlines():
            namespace = line.split()[0]
            if namespace.startswith(prefix):
                Host(namespace.removeprefix(prefix), 0, 0, self.site).remove()
        ip("link", "del", self.site.bridge, check=False)
        for kind in ("cpu", "cpuacct"):
            root = CGROUP_ROOT / kind / self.site.prefix
            for folder in root.glob("*") if root.exists() else []:
                if folder.is_dir():
                    Host(folder.name, 0, 0, self.site).remove()
            _cgroup_remove(root)
