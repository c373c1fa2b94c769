"""Which servers the settings point at: the embedded ones when nothing is configured, the configured ones otherwise."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from nexus import embedded


@pytest.fixture
def no_server_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)


@pytest.mark.usefixtures("no_server_variables")
def test_unset_variables_select_embedded_servers_on_remembered_ports(tmp_path: Path) -> None:
    database = embedded.database_url(tmp_path)
    redis = embedded.redis_url(tmp_path)
    ports = json.loads((tmp_path / embedded.PORTS_FILE).read_text())

    assert database == f"postgres://postgres@127.0.0.1:{ports['postgres']}/nexus"
    assert redis == f"redis://127.0.0.1:{ports['redis']}/0"
    assert embedded.database_url(tmp_path) == database, "the ports are kept once chosen"
    assert [type(s) for s in embedded.configured_services(tmp_path)] == [
        embedded.EmbeddedPostgres,
        embedded.EmbeddedRedis,
    ]


def test_configured_variables_win_and_nothing_embedded_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://nexus@db.internal:5432/nexus")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")

    assert embedded.database_url(tmp_path) == "postgres://nexus@db.internal:5432/nexus"
    assert embedded.redis_url(tmp_path) == "redis://cache.internal:6379/0"
    assert embedded.configured_services(tmp_path) == []
    assert embedded.start_services(tmp_path) == []
    assert not (tmp_path / embedded.PORTS_FILE).exists(), "no embedded port is even chosen"


def test_only_the_unconfigured_server_is_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://nexus@db.internal:5432/nexus")
    monkeypatch.delenv("REDIS_URL", raising=False)

    assert [type(s) for s in embedded.configured_services(tmp_path)] == [embedded.EmbeddedRedis]


@pytest.mark.usefixtures("no_server_variables")
def test_two_checkouts_get_different_ports(tmp_path: Path) -> None:
    first = embedded.embedded_ports(tmp_path / "one")
    second = embedded.embedded_ports(tmp_path / "two")

    assert {first.postgres, first.redis}.isdisjoint({second.postgres, second.redis})


@pytest.mark.usefixtures("no_server_variables")
def test_a_busy_port_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        busy = blocker.getsockname()[1]
        monkeypatch.setattr(embedded, "PORT_RANGE", (busy, busy + 200))
        monkeypatch.setattr(embedded.zlib, "crc32", lambda _data: 0)

        ports = embedded.embedded_ports(tmp_path)

    assert busy not in (ports.postgres, ports.redis)


@pytest.mark.usefixtures("no_server_variables")
def test_embedded_redis_starts_and_stops(tmp_path: Path) -> None:
    server = embedded.EmbeddedRedis(tmp_path)
    server.start()
    try:
        assert server.is_running()
        server.start()  # a second start reuses the running server
        assert server.is_running()
    finally:
        server.stop()
    assert not server.is_running()


@pytest.mark.usefixtures("no_server_variables")
def test_embedded_postgres_initialises_starts_and_stops(tmp_path: Path) -> None:
    import psycopg

    server = embedded.EmbeddedPostgres(tmp_path)
    server.start()
    try:
        with psycopg.connect(embedded.database_url(tmp_path).replace("postgres://", "postgresql://")) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("nexus",)
    finally:
        server.stop()
    assert not server.is_running()
