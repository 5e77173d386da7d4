"""The servers of the cluster bench, each started on its host (benchmarks/cluster/hosts.py):
PostgreSQL with PgBouncer in front on the database host, Redis on the broker host, granian on
each web host, a Celery worker on each worker host (and beat on the first), HAProxy on the load
balancer host. Configured as docs/pooling.md and deploy/haproxy/haproxy.cfg say, on the hosts'
own addresses."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from benchmarks.cluster.hosts import SUBNET, Host

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # pgserver and debian are scripts, imported as make does

from debian import binary_ensure  # noqa: E402
from pgserver import SUPERUSER, SYSTEM_USER, Postgres  # noqa: E402

POSTGRES_PORT, PGBOUNCER_PORT, REDIS_PORT, WEB_PORT, BALANCER_PORT = 5432, 6432, 6379, 8000, 8080
# Each web host has less than a core: one granian process (the Dockerfile's is a process per core),
# with four threads, so that one runs while others wait for their commit.
WEB_THREADS = 4
WORKER_CONCURRENCY = 2


def wait_for_port(address: str, port: int, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((address, port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {address}:{port} within {timeout:.0f} s")


def postgres_start(host: Host, tmp: Path) -> Postgres:
    """PostgreSQL with its durable defaults (as make bench runs it), on the database host's address."""
    server = Postgres(
        tmp / "pgdata",
        port=POSTGRES_PORT,
        socket_dir=tmp / "pgsockets",
        settings={"listen_addresses": host.address, "max_connections": "300"},
    )
    server.init()
    with (server.data_dir / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {SUBNET}.0/24 trust\n")
    argv = [server.binary("postgres"), "-D", str(server.data_dir)]
    argv += [f"-c{name}={value}" for name, value in server.settings.items()]
    host.start(argv, tmp / "postgres.log", env={}, cwd=tmp, user=SYSTEM_USER)
    wait_for_port(host.address, POSTGRES_PORT, "PostgreSQL")
    return server


def pgbouncer_start(host: Host, tmp: Path, databases: list[str]) -> None:
    """PgBouncer in transaction mode, each database also as `<name>_session` in session mode for
    the write-back's session lock (docs/pooling.md). A client cut off inside a transaction gives its
    server connection, and the locks it holds, back after `idle_transaction_timeout`."""
    binary = binary_ensure("pgbouncer")
    folder = tmp / "pgbouncer"
    folder.mkdir()
    (folder / "users.txt").write_text(f'"{SUPERUSER}" ""\n')
    entries = "\n".join(
        f"{name} = host={host.address} port={POSTGRES_PORT} dbname={name}\n"
        f"{name}_session = host={host.address} port={POSTGRES_PORT} dbname={name} pool_mode=session"
        for name in databases
    )
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
{entries}

[pgbouncer]
listen_addr = {host.address}
listen_port = {PGBOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
admin_users = {SUPERUSER}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
idle_transaction_timeout = 30
tcp_keepalive = 1
tcp_keepidle = 10
tcp_keepintvl = 5
tcp_keepcnt = 3
"""
    )
    import os
    import pwd

    user = pwd.getpwnam(SYSTEM_USER)
    for path in (folder, *folder.iterdir()):
        os.chown(path, user.pw_uid, user.pw_gid)
    host.start([binary, str(folder / "pgbouncer.ini")], tmp / "pgbouncer.log", env={}, cwd=tmp, user=SYSTEM_USER)
    wait_for_port(host.address, PGBOUNCER_PORT, "PgBouncer")


def redis_start(host: Host, tmp: Path) -> None:
    binary = binary_ensure("redis-server")
    argv = [binary, "--bind", host.address, "--port", str(REDIS_PORT), "--protected-mode", "no"]
    argv += ["--save", "", "--appendonly", "no"]
    host.start(argv, tmp / "redis.log", env={}, cwd=tmp)
    wait_for_port(host.address, REDIS_PORT, "Redis")


def web_start(host: Host, tmp: Path, env: dict) -> None:
    argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host.address, "--port", str(WEB_PORT)]
    argv += ["--workers", "1", "--blocking-threads", str(WEB_THREADS), "--no-ws", "--respawn-failed-workers"]
    argv += ["--backlog", "2048", "--log-level", "warning", "captpathfinder.wsgi:application"]
    host.start(argv, tmp / f"{host.name}.log", env=env, cwd=ROOT)


def worker_start(host: Host, tmp: Path, env: dict, *, beat: bool) -> None:
    argv = [sys.executable, "-m", "celery", "-A", "captpathfinder", "worker", "--loglevel=WARNING"]
    argv += [f"--concurrency={WORKER_CONCURRENCY}", "--without-gossip", "--without-mingle"]
    argv += [f"--hostname=celery@{host.name}"]
    host.start(argv, tmp / f"{host.name}.log", env=env, cwd=ROOT)
    if beat:
        argv = [sys.executable, "-m", "celery", "-A", "captpathfinder", "beat", "--loglevel=WARNING"]
        argv += ["--schedule", str(tmp / "beat-schedule")]
        host.start(argv, tmp / f"{host.name}-beat.log", env=env, cwd=ROOT)


def balancer_start(host: Host, tmp: Path, webs: list[Host]) -> None:
    """HAProxy as deploy/haproxy/haproxy.cfg sets it up (its limits, timeouts and retries, its
    connect check on each web), with the web hosts as its servers: that file names one web or a
    Docker service, and HAProxy takes no list from the environment."""
    binary = binary_ensure("haproxy")
    servers = "\n".join(f"    server {web.name} {web.address}:{WEB_PORT} maxconn 32 check" for web in webs)
    config = tmp / f"haproxy-{len(webs)}.cfg"
    config.write_text(
        f"""global
    maxconn 4096
    tune.bufsize 98304

defaults
    mode http
    option http-buffer-request
    option forwardfor
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout connect 5s
    timeout client 30s
    timeout server 60s
    timeout queue 30s
    retries 2
    retry-on conn-failure empty-response
    option redispatch

frontend public
    bind {host.address}:{BALANCER_PORT}
    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt 65536 }}
    default_backend web

backend web
    balance roundrobin
{servers}
"""
    )
    host.start([binary, "-W", "-db", "-f", str(config)], tmp / "haproxy.log", env={}, cwd=tmp)
    wait_for_port(host.address, BALANCER_PORT, "HAProxy")
