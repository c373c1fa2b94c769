"""Celery against the test Redis broker: a real worker runs the tasks, beat's database scheduler installs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from apps.core.health import WORKER_HEARTBEAT_KEY, redis_client
from apps.core.models import HealthCheck
from apps.core.tasks import health_check, prune_health_checks
from nexus import embedded
from nexus.celery import app as celery_app

WORKER_NAME = "test-worker@nexus"
RESULT_TIMEOUT = 20
WORKER_START_TIMEOUT = 60
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_heartbeat() -> Iterator[None]:
    with redis_client() as client:
        client.delete(WORKER_HEARTBEAT_KEY)
    yield
    with redis_client() as client:
        client.delete(WORKER_HEARTBEAT_KEY)


def worker_database_url() -> str:
    """The configured (or embedded) server's URL, naming the test database pytest-django created on it."""
    configured = urlsplit(os.environ.get("DATABASE_URL") or embedded.database_url())
    return urlunsplit(configured._replace(path=f"/{connection.settings_dict['NAME']}"))


@pytest.fixture(scope="module")
def celery_worker(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A nexus worker`` as `make run` starts it, on the test database and the test broker."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nexus.settings.test", "DATABASE_URL": worker_database_url()}
    # Tasks left on the test queue by an interrupted run must not run now.
    celery_app.control.purge()
    with redis_client() as client:
        client.delete(WORKER_HEARTBEAT_KEY)
    command = [sys.executable, "-m", "celery", "-A", "nexus", "worker", "--pool", "solo", "--hostname", WORKER_NAME]
    command += ["--loglevel", "INFO", "--without-mingle", "--without-gossip"]
    with log_path.open("wb") as log:
        worker = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not celery_app.control.ping(destination=[WORKER_NAME], timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        # A worker reports itself as soon as it is ready; wait for that so it cannot land inside a test.
        with redis_client() as client:
            while not client.exists(WORKER_HEARTBEAT_KEY):
                if time.monotonic() > deadline:
                    pytest.fail("the worker did not run its start-up health check")
                time.sleep(0.1)
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run_on_worker(task: object) -> object:
    # The tasks ignore their results in production; the test asks for this one to learn what the worker did.
    return task.apply_async(ignore_result=False).get(timeout=RESULT_TIMEOUT)  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_health_check_runs_on_a_worker_records_the_result_and_leaves_a_heartbeat(
    celery_worker: subprocess.Popen[bytes],
) -> None:
    before = timezone.now()

    record_pk = run_on_worker(health_check)

    record = HealthCheck.objects.get(pk=record_pk)
    assert record.worker == WORKER_NAME
    assert record.status == HealthCheck.Status.OK
    assert record.details == {
        "database": {"ok": True, "detail": "postgresql"},
        "redis": {"ok": True, "detail": "pong"},
    }
    assert record.checked_at >= before
    with redis_client() as client:
        heartbeat = json.loads(client.get(WORKER_HEARTBEAT_KEY))
        ttl = client.ttl(WORKER_HEARTBEAT_KEY)
    assert heartbeat["worker"] == WORKER_NAME
    assert before.timestamp() <= heartbeat["at"] <= timezone.now().timestamp()
    assert 0 < ttl <= settings.HEALTH_WORKER_STALE_SECONDS, "a heartbeat that never expires would hide a dead worker"


@pytest.mark.django_db(transaction=True)
def test_health_check_is_safe_to_run_twice_and_healthz_sees_the_worker(celery_worker: subprocess.Popen[bytes]) -> None:
    client = Client()
    assert client.get("/healthz").json()["components"]["worker"]["ok"] is False

    first = run_on_worker(health_check)
    second = run_on_worker(health_check)

    assert first != second
    assert HealthCheck.objects.filter(pk__in=[first, second], status=HealthCheck.Status.OK).count() == 2
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["components"]["worker"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_prune_deletes_only_records_past_retention_and_is_safe_to_run_twice(
    celery_worker: subprocess.Popen[bytes],
) -> None:
    now = timezone.now()
    ages = {"eight days": timedelta(days=8), "six days": timedelta(days=6), "fresh": timedelta(0)}
    for worker, age in ages.items():
        record = HealthCheck.objects.create(worker=worker, status=HealthCheck.Status.OK, duration_ms=1)
        HealthCheck.objects.filter(pk=record.pk).update(checked_at=now - age)

    assert run_on_worker(prune_health_checks) == 1
    assert run_on_worker(prune_health_checks) == 0
    assert set(HealthCheck.objects.values_list("worker", flat=True)) == {"six days", "fresh"}


@pytest.mark.django_db(transaction=True)
def test_beat_installs_the_settings_schedule_in_the_database_scheduler() -> None:
    assert not PeriodicTask.objects.filter(name__startswith="core-").exists()

    DatabaseScheduler(app=celery_app)

    health = PeriodicTask.objects.get(name="core-health-check")
    assert health.task == "apps.core.tasks.health_check"
    assert health.enabled
    assert health.interval is not None
    assert (health.interval.every, health.interval.period) == (
        settings.HEALTH_CHECK_INTERVAL_SECONDS,
        IntervalSchedule.SECONDS,
    )
    prune = PeriodicTask.objects.get(name="core-prune-health-checks")
    assert prune.task == "apps.core.tasks.prune_health_checks"
    assert prune.crontab is not None
    assert (prune.crontab.minute, prune.crontab.hour, prune.crontab.day_of_week) == ("17", "3", "*")
    # Crontab hours are the organisation's wall-clock hours, as the administrators editing them expect.
    assert str(prune.crontab.timezone) == settings.TIME_ZONE


@pytest.mark.django_db(transaction=True)
def test_restarting_beat_neither_duplicates_nor_loses_the_schedule() -> None:
    DatabaseScheduler(app=celery_app)
    installed = dict(PeriodicTask.objects.values_list("name", "task"))

    DatabaseScheduler(app=celery_app)

    assert dict(PeriodicTask.objects.values_list("name", "task")) == installed
    assert {"core-health-check", "core-prune-health-checks"} <= installed.keys()
    assert IntervalSchedule.objects.filter(every=settings.HEALTH_CHECK_INTERVAL_SECONDS).count() == 1


def test_a_queued_health_check_expires_after_one_interval() -> None:
    """A check that waited behind a dead worker says nothing about now; a backlog of them would only add load."""
    # A queue no worker reads, so the message stays where the test can look at it.
    queue = "test-health-check-expiry"
    sent_at = timezone.now()

    health_check.apply_async(queue=queue)

    with redis_client() as client:
        queued = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
        client.delete(queue)
    [message] = queued
    assert message["headers"]["task"] == "apps.core.tasks.health_check"
    expires_in = datetime.fromisoformat(message["headers"]["expires"]) - sent_at
    assert abs(expires_in - timedelta(seconds=settings.HEALTH_CHECK_INTERVAL_SECONDS)) < timedelta(seconds=5)
