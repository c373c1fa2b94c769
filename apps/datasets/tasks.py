"""Thin Celery tasks: each takes ids and calls one service, and is safe to run twice.

``acks_late`` and ``reject_on_worker_lost`` (settings) put a task back on the queue when its worker dies; the
services make the rerun start clean and finish the job.
"""

from __future__ import annotations

from celery import shared_task

from apps.accounts.models import User
from apps.datasets import services


@shared_task(ignore_result=True)
def dataset_ingest(dataset_id: int, user_id: int | None = None) -> None:
    """Detect, map, validate, mask, archive and load a dataset (``services.dataset_run``)."""
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    services.dataset_run(dataset_id=dataset_id, user=user)


@shared_task(ignore_result=True)
def dataset_post_load(dataset_id: int) -> None:
    """Run the post-load hooks (``apps.datasets.hooks``) on a dataset that has just become ready."""
    services.dataset_post_load(dataset_id=dataset_id)
