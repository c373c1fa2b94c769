"""/healthz against real servers: the HTTP code follows PostgreSQL, Redis and the worker heartbeat."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import Client

from apps.core.health import WORKER_HEARTBEAT_KEY, health_check_run, redis_client
from apps.core.models import HealthCheck
from nexus.embedded import EmbeddedRedis

COMPONENTS = {"database", "redis", "worker"}


@pytest.fixture(autouse=True)
def no_heartbeat() -> Iterator[None]:
    with redis_client() as client:
        client.delete(WORKER_HEARTBEAT_KEY)
    yield
    with redis_client() as client:
        client.delete(WORKER_HEARTBEAT_KEY)


@pytest.fixture
def throwaway_redis(tmp_path: Path, settings: Any) -> Iterator[EmbeddedRedis]:
    """A second Redis on its own port, which /healthz is pointed at and the test may stop."""
    server = EmbeddedRedis(tmp_path)
    server.start()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{server.port}/0"
    try:
        yield server
    finally:
        server.stop()


def get_healthz() -> tuple[HttpResponse, dict[str, Any]]:
    response = Client().get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"], "a cached health answer would hide an outage"
    body = response.json()
    assert set(body["components"]) == COMPONENTS
    assert_no_secrets(response.content.decode())
    return response, body


def assert_no_secrets(text: str) -> None:
    database = connection.settings_dict
    revealing = [
        settings.SECRET_KEY,
        settings.PII_PEPPER,
        settings.PII_VAULT_KEY,
        settings.CELERY_BROKER_URL,
        "redis://",
        "postgres://",
        str(database["PORT"]),
        str(database["NAME"]),
        settings.CELERY_BROKER_URL.rsplit(":", 1)[-1].split("/")[0],  # the Redis port
    ]
    if database.get("PASSWORD"):
        revealing.append(database["PASSWORD"])
    leaked = [secret for secret in revealing if secret and secret in text]
    assert not leaked, f"/healthz reveals {leaked}: {text}"


@pytest.mark.django_db
def test_ok_when_database_redis_and_a_fresh_worker_heartbeat_are_present() -> None:
    health_check_run(worker="celery@worker-1")

    response, body = get_healthz()

    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["components"]["database"] == {"ok": True, "detail": "postgresql"}
    assert body["components"]["redis"] == {"ok": True, "detail": "pong"}
    assert body["components"]["worker"]["ok"] is True
    assert "worker-1" not in response.content.decode(), "worker host names are not for the public"


@pytest.mark.django_db
def test_head_answers_for_load_balancers_and_writes_are_refused() -> None:
    health_check_run(worker="celery@worker-1")

    assert Client().head("/healthz").status_code == 200
    assert Client().post("/healthz").status_code == 405


@pytest.mark.django_db
def test_worker_down_without_a_heartbeat() -> None:
    response, body = get_healthz()

    assert response.status_code == 503
    assert body["status"] == "failing"
    assert body["components"]["worker"] == {"ok": False, "detail": "no heartbeat"}
    assert body["components"]["database"]["ok"] is True
    assert body["components"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_worker_down_once_its_heartbeat_goes_stale(settings: Any) -> None:
    settings.HEALTH_WORKER_STALE_SECONDS = 1
    health_check_run(worker="celery@worker-1")
    assert get_healthz()[0].status_code == 200

    time.sleep(1.2)

    response, body = get_healthz()
    assert response.status_code == 503
    assert body["components"]["worker"]["ok"] is False


@pytest.mark.django_db
def test_an_unreadable_heartbeat_is_a_down_worker_not_an_error() -> None:
    with redis_client() as client:
        client.set(WORKER_HEARTBEAT_KEY, "garbage", ex=60)

    response, body = get_healthz()

    assert response.status_code == 503
    assert body["components"]["worker"] == {"ok": False, "detail": "unreadable heartbeat"}


@pytest.mark.django_db
def test_redis_down_is_503_with_redis_not_ok(throwaway_redis: EmbeddedRedis) -> None:
    health_check_run(worker="celery@worker-1")
    response, body = get_healthz()
    assert response.status_code == 200, "/healthz must be reading the throwaway Redis for this test to mean anything"

    throwaway_redis.stop()
    assert not throwaway_redis.is_running()

    response, body = get_healthz()
    assert response.status_code == 503
    assert body["status"] == "failing"
    assert body["components"]["redis"] == {"ok": False, "detail": "ConnectionError"}
    assert body["components"]["worker"] == {"ok": False, "detail": "redis unavailable"}
    assert body["components"]["database"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_database_down_is_503_with_database_not_ok() -> None:
    """The ``default`` connection itself points at an address where no PostgreSQL answers.

    /healthz checks ``default`` on a fresh connection per request (CONN_MAX_AGE is 0), so a stopped server and a
    refused port are the same thing to it. Stopping the shared PostgreSQL instead would pull the database from
    under every other test of the session.
    """
    health_check_run(worker="celery@worker-1")
    original = dict(connection.settings_dict)
    with socket.socket() as closed:
        # Bound but not listening: connecting is refused, and no other process can take the port meanwhile.
        closed.bind(("127.0.0.1", 0))
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed.getsockname()[1]))
        try:
            response, body = get_healthz()
        finally:
            connection.close()
            connection.settings_dict.update(original)

    assert response.status_code == 503
    assert body["status"] == "failing"
    assert body["components"]["database"] == {"ok": False, "detail": "OperationalError"}
    assert body["components"]["redis"]["ok"] is True
    assert body["components"]["worker"]["ok"] is True
    assert HealthCheck.objects.exists(), "the real database is back for the rest of the suite"


@pytest.mark.django_db
def test_the_worker_records_failures_too(throwaway_redis: EmbeddedRedis) -> None:
    throwaway_redis.stop()

    record = health_check_run(worker="celery@worker-1")

    assert record.status == HealthCheck.Status.FAILING
    assert record.details["redis"] == {"ok": False, "detail": "ConnectionError"}
    assert record.details["database"]["ok"] is True
