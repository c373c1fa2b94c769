"""`make run`'s pieces: the demo data is complete and reusable, the web port falls back when taken, the web
processes share one listening socket and pool their database connections."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command

from apps.accounts.choices import Role
from apps.accounts.management.commands.demo_load import DEMO_PASSWORD, DEMO_USERS, SUPERUSER
from apps.accounts.models import ApiKey, User
from apps.core.management.commands.run import (
    WEB_DATABASE_POOL_SIZE,
    free_port,
    listen_socket,
    web_processes,
    web_start,
)


@pytest.mark.django_db
def test_demo_load_creates_one_user_per_role_and_can_run_again() -> None:
    first = io.StringIO()
    call_command("demo_load", stdout=first)
    second = io.StringIO()
    call_command("demo_load", stdout=second)

    roles = {user.role for user in User.objects.filter(username__in=[u[0] for u in DEMO_USERS])}
    assert roles == set(Role.values)
    for username, role, *_rest in DEMO_USERS:
        user = authenticate(username=username, password=DEMO_PASSWORD)
        assert user is not None
        assert user.role == role
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert User.objects.get(username=SUPERUSER).is_superuser
    assert ApiKey.objects.filter(user__username="partner", revoked_at__isnull=True).count() == 1
    assert "nxs_" in first.getvalue(), "the partner key is printed the first time"
    assert "nxs_" not in second.getvalue(), "and never again"
    for username, *_rest in DEMO_USERS:
        assert username in second.getvalue()


def test_free_port_skips_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]

        assert free_port(port) != port


def test_web_processes_default_to_two_per_cpu_and_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_PROCESSES", raising=False)
    assert web_processes() == 2 * (os.cpu_count() or 1)
    monkeypatch.setenv("WEB_PROCESSES", "3")
    assert web_processes() == 3


def _get(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_web_processes_share_one_listening_socket() -> None:
    """Every Daphne process accepts on the socket the run command opened: one process gone, the others serve."""
    sock = listen_socket("127.0.0.1", 18900)
    port = sock.getsockname()[1]
    with listen_socket("127.0.0.1", port) as other:
        assert other.getsockname()[1] != port, "a taken port is skipped"
    servers = web_start(sock, 2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status = _get(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the web processes did not start"
                time.sleep(0.5)
        assert status in (200, 503)
        servers[0].terminate()
        servers[0].wait(timeout=20)
        assert all(_get(port) in (200, 503) for _ in range(5)), "the other process still accepts"
        assert servers[1].poll() is None
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)


def _sessions_opened(database: str) -> int:
    """Sessions PostgreSQL has opened on ``database`` so far (its statistics, read on a connection of our own)."""
    params = settings.DATABASES["default"]
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname="postgres", autocommit=True
    ) as connection:
        row = connection.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [database]).fetchone()
    return int(row[0]) if row else 0


def test_a_web_process_takes_its_database_connections_from_a_pool() -> None:
    """Every request runs on a thread of its own under ASGI; without the pool each opened connections anew."""
    sock = listen_socket("127.0.0.1", 18950)
    port = sock.getsockname()[1]
    servers = web_start(sock, 1, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    database = settings.DATABASES["default"]["NAME"]
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.5)
        time.sleep(1.5)  # a backend reports its statistics at most once a second
        before = _sessions_opened(database)
        assert all(_get(port) in (200, 503) for _ in range(30))
        time.sleep(1.5)
        assert _sessions_opened(database) - before <= WEB_DATABASE_POOL_SIZE
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
