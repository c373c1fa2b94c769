from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.core.health import check_database, check_redis, record_worker_heartbeat
from apps.core.models import HealthCheck

HEALTH_CHECK_RETENTION = timedelta(days=7)


@shared_task(bind=True, ignore_result=True)
def health_check(self) -> int:  # type: ignore[no-untyped-def]
    """Check the database and Redis from a worker, record the result, and leave a heartbeat for /healthz."""
    started = time.monotonic()
    components = [check_database(), check_redis()]
    worker = self.request.hostname or "unknown"
    record = HealthCheck.objects.create(
        worker=worker,
        status=HealthCheck.Status.OK if all(c.ok for c in components) else HealthCheck.Status.FAILING,
        details={c.name: {"ok": c.ok, "detail": c.detail} for c in components},
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    record_worker_heartbeat(worker)
    return record.pk


@shared_task(ignore_result=True)
def prune_health_checks() -> int:
    deleted, _per_model = HealthCheck.objects.filter(checked_at__lt=timezone.now() - HEALTH_CHECK_RETENTION).delete()
    return deleted
