"""Service checks shared by /healthz and the periodic health-check task.

The checked Redis is the broker's (``CELERY_BROKER_URL``): the cache and the channel layer are other logical
databases of the same server (``REDIS_URL``), and the worker heartbeat lives beside the queues the workers read.
Details are short, fixed words or exception class names, never addresses or messages: /healthz is public.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.core.models import HealthCheck

WORKER_HEARTBEAT_KEY = "nexus:health:worker-heartbeat"
HEALTH_CHECK_RETENTION = timedelta(days=7)
# Short enough that /healthz answers a load balancer in time even when a server drops packets.
REDIS_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    detail: str


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


def check_database() -> ComponentStatus:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means the database is unusable
        return ComponentStatus("database", False, type(exc).__name__)
    return ComponentStatus("database", True, connection.vendor)


def check_redis(client: redis.Redis) -> ComponentStatus:
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means Redis is unusable
        return ComponentStatus("redis", False, type(exc).__name__)
    return ComponentStatus("redis", True, "pong")


def check_worker(client: redis.Redis) -> ComponentStatus:
    """Alive while a worker ran the periodic health check recently (which also proves beat is running)."""
    try:
        value = client.get(WORKER_HEARTBEAT_KEY)
    except Exception as exc:  # noqa: BLE001 - without Redis no worker can be reached either
        return ComponentStatus("worker", False, type(exc).__name__)
    if value is None:
        return ComponentStatus("worker", False, "no heartbeat")
    try:
        beat_at = float(json.loads(value)["at"])
    except (ValueError, KeyError, TypeError):
        return ComponentStatus("worker", False, "unreadable heartbeat")
    age = max(0.0, time.time() - beat_at)
    if age > settings.HEALTH_WORKER_STALE_SECONDS:
        return ComponentStatus("worker", False, f"last heartbeat {age:.0f}s ago")
    return ComponentStatus("worker", True, f"last heartbeat {age:.0f}s ago")


def health_components() -> list[ComponentStatus]:
    """The status of PostgreSQL, Redis and the workers, as /healthz reports them."""
    database = check_database()
    with redis_client() as client:
        redis_status = check_redis(client)
        if not redis_status.ok:
            return [database, redis_status, ComponentStatus("worker", False, "redis unavailable")]
        return [database, redis_status, check_worker(client)]


def health_check_run(*, worker: str) -> HealthCheck:
    """Check the services from a worker, leave the heartbeat /healthz reads, and record the result.

    The heartbeat goes first: when the database is down the record cannot be written, yet the worker is alive.
    """
    started = time.monotonic()
    database = check_database()
    with redis_client() as client:
        redis_status = check_redis(client)
        if redis_status.ok:
            heartbeat = json.dumps({"at": time.time(), "worker": worker})
            client.set(WORKER_HEARTBEAT_KEY, heartbeat, ex=settings.HEALTH_WORKER_STALE_SECONDS)
    components = [database, redis_status]
    return HealthCheck.objects.create(
        worker=worker,
        status=HealthCheck.Status.OK if all(c.ok for c in components) else HealthCheck.Status.FAILING,
        details={c.name: {"ok": c.ok, "detail": c.detail} for c in components},
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def health_check_prune(*, retention: timedelta = HEALTH_CHECK_RETENTION) -> int:
    """Delete the health-check records older than ``retention``; the number deleted."""
    deleted, _per_model = HealthCheck.objects.filter(checked_at__lt=timezone.now() - retention).delete()
    return deleted
