"""Thin Celery tasks of the search: each takes ids, calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from apps.search import services


def search_index_dataset_hook(dataset_id: int) -> None:
    """Post-load hook: queue the indexing (embedding text takes longer than the load's own target allows, and the
    task retries on its own), which then re-runs the organisation's saved searches."""
    transaction.on_commit(lambda: search_index_dataset.delay(dataset_id))


@shared_task(ignore_result=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def search_index_dataset(dataset_id: int) -> None:
    services.search_index_dataset(dataset_id=dataset_id)


@shared_task(ignore_result=True)
def search_saved_rerun(saved_search_id: int) -> None:
    services.saved_search_rerun(saved_search_id=saved_search_id)


@shared_task(ignore_result=True)
def search_saved_rerun_due() -> None:
    """Beat: re-run every saved search whose organisation has data newer than its last run."""
    for saved_search_id in services.saved_searches_due():
        search_saved_rerun.delay(saved_search_id)
