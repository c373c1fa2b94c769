"""Service checks shared by /healthz and the periodic health-check task."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

WORKER_HEARTBEAT_KEY = "nexus:health:worker-heartbeat"


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    detail: str


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)


def check_database() -> ComponentStatus:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means the database is unusable
        return ComponentStatus("database", False, type(exc).__name__)
    return ComponentStatus("database", True, connection.vendor)


def check_redis() -> ComponentStatus:
    try:
        redis_client().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means Redis is unusable
        return ComponentStatus("redis", False, type(exc).__name__)
    return ComponentStatus("redis", True, "pong")


def record_worker_heartbeat(worker: str) -> None:
    redis_client().set(WORKER_HEARTBEAT_KEY, f"{time.time():.3f} {worker}", ex=settings.HEALTH_WORKER_STALE_SECONDS)


def check_worker() -> ComponentStatus:
    """Alive while a worker ran the periodic health check recently (which also proves beat is running)."""
    try:
        value = redis_client().get(WORKER_HEARTBEAT_KEY)
    except Exception as exc:  # noqa: BLE001 - without Redis no worker can be reached either
        return ComponentStatus("worker", False, type(exc).__name__)
    if value is None:
        return ComponentStatus("worker", False, "no heartbeat")
    stamp, _sep, worker = (value.decode() if isinstance(value, bytes) else value).partition(" ")
    age = timezone.now().timestamp() - float(stamp)
    return ComponentStatus("worker", True, f"{worker} {age:.0f}s ago")
