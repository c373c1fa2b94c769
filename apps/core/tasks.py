"""Periodic service checks. Thin: each task calls one service in apps.core.health and is safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from apps.core.health import health_check_prune, health_check_run


# A check that waited in the queue longer than one interval says nothing about now: it expires instead of running.
@shared_task(bind=True, ignore_result=True, expires=settings.HEALTH_CHECK_INTERVAL_SECONDS)
def health_check(self: Task[Any, Any]) -> int:
    """Check the database and Redis from a worker, record the result, and leave a heartbeat for /healthz."""
    return health_check_run(worker=self.request.hostname or "unknown").pk


@shared_task(ignore_result=True)
def prune_health_checks() -> int:
    return health_check_prune()


@worker_ready.connect
def health_check_on_worker_start(**_kwargs: Any) -> None:
    """Report a freshly started worker at once instead of after the first beat interval."""
    health_check.delay()
