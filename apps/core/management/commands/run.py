"""``make run``: embedded servers, migrations, demo data, then Daphne + a Celery worker + Celery beat.

Ctrl-C stops the three processes and the embedded servers; running it again
reuses the data under ``var/``.
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

        port = free_port(options["port"])
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "nexus"]
        commands = {
            "web": [python, "-m", "daphne", "-b", options["host"], "-p", str(port), "nexus.asgi:application"],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "--hostname", "worker@%h"],
            "beat": [*celery, "beat", "--loglevel", "INFO"],
        }
        processes = {name: subprocess.Popen(command) for name, command in commands.items()}  # noqa: S603
        self.stdout.write(self.style.SUCCESS(f"\nNexus Core is running at http://{options['host']}:{port}/"))
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
