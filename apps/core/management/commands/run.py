"""``make run``: embedded servers, migrations, demo data, then Daphne + a Celery worker + Celery beat.

Daphne runs as several processes accepting on one listening socket that this command opens (``daphne --fd``):
Django serves its synchronous views one at a time per process, so one process would make every request wait for
the one before it. ``WEB_PROCESSES`` sets how many (default: two per CPU).

Ctrl-C stops the processes and the embedded servers; running it again reuses the data under ``var/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from nexus import embedded

DEFAULT_PORT = 8000
LISTEN_BACKLOG = 1024
# Database connections per web process (see web_start).
WEB_DATABASE_POOL_SIZE = 4


def free_port(preferred: int) -> int:
    for port in range(preferred, preferred + 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {preferred} and {preferred + 99}")


def listen_socket(host: str, preferred: int) -> socket.socket:
    """A listening TCP socket on the first free port from ``preferred``, inheritable by the web processes."""
    for port in range(preferred, preferred + 100):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        sock.listen(LISTEN_BACKLOG)
        sock.set_inheritable(True)
        return sock
    raise RuntimeError(f"no free port between {preferred} and {preferred + 99}")


def web_processes() -> int:
    """How many Daphne processes serve the web: ``WEB_PROCESSES``, else two per CPU."""
    configured = int(os.environ.get("WEB_PROCESSES", "0"))
    return configured if configured > 0 else 2 * (os.cpu_count() or 1)


def web_start(sock: socket.socket, count: int, **popen: Any) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` Daphne processes that all accept connections on ``sock`` (the kernel spreads them).

    Each takes its database connections from a pool (``DATABASE_POOL_SIZE``, default ``WEB_DATABASE_POOL_SIZE``):
    under ASGI every request runs on a thread of its own, and a thread's kept connection is never used again."""
    fd = sock.fileno()
    command = [sys.executable, "-m", "daphne", "--fd", str(fd), "nexus.asgi:application"]
    env = dict(popen.pop("env", os.environ))
    env.setdefault("DATABASE_POOL_SIZE", str(WEB_DATABASE_POOL_SIZE))
    return [
        subprocess.Popen(command, pass_fds=(fd,), env=env, **popen)  # noqa: S603 - our interpreter and Daphne
        for _ in range(count)
    ]


class Command(BaseCommand):
    help = "Start Nexus Core with embedded servers and demo data: Daphne, one Celery worker and Celery beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo organisation and data.")

    def handle(self, *args: Any, **options: Any) -> None:
        services = embedded.start_services()
        for service in services:
            self.stdout.write(f"embedded {type(service).__name__.removeprefix('Embedded')} on 127.0.0.1:{service.port}")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        if not options["no_demo"]:
            call_command("demo_load")
            self.stdout.write("\nDemo datasets (synthetic, docs/synthetic-data.md):")
            call_command("demo_data")

        sock = listen_socket(options["host"], options["port"])
        port = sock.getsockname()[1]
        celery = [sys.executable, "-m", "celery", "-A", "nexus"]
        commands = {
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "--hostname", "worker@%h"],
            "beat": [*celery, "beat", "--loglevel", "INFO"],
        }
        web = web_start(sock, web_processes())
        processes = {f"web {index + 1}": process for index, process in enumerate(web)}
        processes |= {name: subprocess.Popen(command) for name, command in commands.items()}  # noqa: S603
        # The web processes hold the socket now; this process only watches them.
        sock.close()
        address = f"http://{options['host']}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nNexus Core is running at {address} ({len(web)} web processes)"))
        self.stdout.write("Press Ctrl-C to stop it.\n")

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)

        self.stdout.write("stopping…")
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        for service in services:
            service.stop()
        self.stdout.write("stopped")
        if exit_code:
            sys.exit(exit_code)
