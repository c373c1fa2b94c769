"""Thin Celery tasks of the entity graph: each takes ids, calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from apps.entities import graph, resolution, scoring, watchlists


def entities_resolve_dataset_hook(dataset_id: int) -> None:
    """Post-load hook: resolve the parties of a freshly loaded dataset into the organisation's graph, then queue
    the graph analytics over the changed graph."""
    stats = resolution.resolve_dataset(dataset_id=dataset_id)
    if stats.organization_id is not None:
        organization_id = stats.organization_id
        transaction.on_commit(lambda: entities_graph_analyze.delay(organization_id))


@shared_task(ignore_result=True)
def entities_graph_analyze(organization_id: int) -> None:
    """Centralities, communities and invoice cycles of an organisation's graph, stored on its entities."""
    graph.graph_analyze(organization_id=organization_id)


@shared_task(ignore_result=True)
def entities_scorer_refit(organization_id: int, kind: str) -> None:
    """Refit the match scorer of an organisation from its review decisions."""
    scoring.scorer_refit(organization_id=organization_id, kind=kind)


@shared_task(ignore_result=True)
def entities_watchlist_screen(watchlist_id: int) -> None:
    """Screen every entity of the watchlist's organisation against it."""
    watchlists.watchlist_screen(watchlist_id=watchlist_id)
