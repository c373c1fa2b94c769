"""Writes of the search: indexing a loaded dataset, and saved searches (keep, delete, re-run and notify)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError
from apps.core.notifications import notification_send_to_user
from apps.datasets.models import Dataset, DatasetStatus
from apps.search.filtersets import query_from_params
from apps.search.models import SavedSearch

if TYPE_CHECKING:
    from apps.accounts.models import User

logger = logging.getLogger(__name__)

# Results a saved search compares run to run; a hit outside them is not reported.
SAVED_SEARCH_RESULTS = 200
# How many reported hits a saved search remembers.
SEEN_LIMIT = 5000


def search_index_dataset(*, dataset_id: int) -> dict[str, int]:
    """Index a freshly loaded dataset in the engines that need it, then re-run its organisation's saved searches.

    PostgreSQL gets the records' ``search_vector`` filled, the vector store the texts embedded, OpenSearch (when
    configured) the documents. Safe to run twice.
    """
    from apps.search.engines.postgres import postgres_index_dataset
    from apps.search.engines.vectors import vectors_index_dataset

    stats = {"postgres": postgres_index_dataset(dataset_id=dataset_id)}
    stats["vectors"] = vectors_index_dataset(dataset_id=dataset_id)
    if settings.OPENSEARCH_URL:
        from apps.search.engines.opensearch import opensearch_index_dataset

        stats["opensearch"] = opensearch_index_dataset(dataset_id=dataset_id)
    organization_id = Dataset.objects.filter(pk=dataset_id).values_list("organization_id", flat=True).first()
    if organization_id is not None:
        stats["saved_searches"] = sum(
            saved_search_rerun(saved_search_id=saved_search_id)
            for saved_search_id in saved_searches_due(organization_id=organization_id)
        )
    return stats


def _hit_keys(*, owner: User, params: dict[str, Any]) -> list[str]:
    from apps.search.selectors import search_ranked

    query = query_from_params(params)
    if not query.text:
        return []
    return [hit.key for hit in search_ranked(user=owner, query=query)[:SAVED_SEARCH_RESULTS]]


@transaction.atomic
def saved_search_create(*, actor: User, name: str, params: dict[str, Any], notify: bool = True) -> SavedSearch:
    """Keep a search. What it finds now counts as seen: later runs report only what new data adds."""
    if actor.organization_id is None:
        raise DomainError(_("Only a member of an organisation can save searches."))
    if not str(params.get("q") or "").strip():
        raise DomainError(_("A saved search needs words or codes to look for."))
    saved = SavedSearch(
        organization_id=actor.organization_id,
        owner=actor,
        name=name.strip(),
        params=params,
        notify=notify,
        last_run_at=timezone.now(),
    )
    saved.full_clean()
    saved.seen_hits = _hit_keys(owner=actor, params=params)
    saved.save()
    return saved


@transaction.atomic
def saved_search_delete(*, actor: User, saved_search: SavedSearch) -> None:
    if saved_search.owner_id != actor.pk:
        raise DomainError(_("Only the owner can delete a saved search."))
    saved_search.delete()


def saved_search_rerun(*, saved_search_id: int) -> int:
    """Run a saved search again as its owner; notify the owner of hits not reported before. The number of them.

    The owner's current permissions apply: a member who left the organisation or lost a permission gets nothing
    they could not find on the page.
    """
    with transaction.atomic():
        saved = SavedSearch.objects.select_for_update().select_related("owner").get(pk=saved_search_id)
        owner = saved.owner
        keys = _hit_keys(owner=owner, params=saved.params) if owner.is_active else []
        seen = set(saved.seen_hits)
        new = [key for key in keys if key not in seen]
        saved.seen_hits = (saved.seen_hits + new)[-SEEN_LIMIT:]
        saved.last_run_at = timezone.now()
        saved.last_new_hits = len(new)
        saved.save(update_fields=["seen_hits", "last_run_at", "last_new_hits", "updated_at"])
        if new and saved.notify:
            url = f"{reverse('search:search')}?{urlencode(saved.params, doseq=True)}"
            notification_send_to_user(
                user_id=owner.pk,
                payload={
                    "type": "search.saved_search_hits",
                    "level": "info",
                    "text": format_lazy(
                        _("New results for your saved search «{name}»: {count}"), name=saved.name, count=len(new)
                    ),
                    "url": url,
                    "saved_search": saved.pk,
                    "new": len(new),
                },
            )
    return len(new)


def saved_searches_due(*, organization_id: int | None = None) -> list[int]:
    """Saved searches whose organisation has data that finished loading since their last run."""
    latest = dict(
        Dataset.objects.filter(status=DatasetStatus.READY, ready_at__isnull=False)
        .values_list("organization_id")
        .annotate(latest=Max("ready_at"))
    )
    saved = SavedSearch.objects.all()
    if organization_id is not None:
        saved = saved.filter(organization_id=organization_id)
    due = []
    for pk, org_id, last_run_at in saved.values_list("pk", "organization_id", "last_run_at"):
        ready_at = latest.get(org_id)
        if ready_at is not None and (last_run_at is None or ready_at > last_run_at):
            due.append(pk)
    return due
