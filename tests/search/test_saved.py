"""Saved searches: kept from the page, re-run when new data is ready, the owner notified of new hits only."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.core.notifications import user_group
from apps.datasets.models import RecordKind
from apps.search import services, tasks
from apps.search.engines.postgres import postgres_index_dataset
from apps.search.models import SavedSearch
from tests.search.conftest import Corpus, dataset_of, declaration

pytestmark = pytest.mark.django_db


def received(user: User, action: object) -> list[dict[str, object]]:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user.pk), channel)
    try:
        action()  # type: ignore[operator]
        messages = []
        while True:
            try:
                message = async_to_sync(asyncio.wait_for)(layer.receive(channel), 0.5)
            except TimeoutError:
                break
            messages.append(message["payloads"]["en"])
        return messages
    finally:
        async_to_sync(layer.group_discard)(user_group(user.pk), channel)


def test_saving_from_the_page_keeps_the_filters_and_lists_it(
    client: Client, investigator: User, corpus: Corpus
) -> None:
    client.force_login(investigator)
    url = f"{reverse('search:saved-create')}?q=риба&country=CN&kind=customs_declaration"
    response = client.post(url, {"name": "Риба з Китаю", "notify": "on"})
    assert response.status_code == 302
    saved = SavedSearch.objects.get(owner=investigator)
    assert saved.params == {"q": "риба", "country": "CN", "kind": ["customs_declaration"]}
    assert saved.seen_hits == [f"customs_declaration:{corpus.zoria.pk}"]
    listing = client.get(reverse("search:saved")).content.decode()
    assert "Риба з Китаю" in listing
    refused = client.post(reverse("search:saved-create"), {"name": "Порожній"})
    assert refused.status_code == 302
    assert SavedSearch.objects.filter(owner=investigator).count() == 1


# Committed for real: notifications leave only after the commit.
@pytest.mark.django_db(transaction=True)
def test_new_data_reruns_the_search_and_notifies_the_owner_of_new_hits_only(investigator: User, corpus: Corpus) -> None:
    saved = services.saved_search_create(actor=investigator, name="Хек", params={"q": "хек"})
    assert sorted(saved.seen_hits) == sorted(
        [f"customs_declaration:{corpus.zoria.pk}", f"tax_invoice:{corpus.invoice.pk}"]
    )
    later = dataset_of(corpus.organization, RecordKind.CUSTOMS_DECLARATION, "Нові декларації")
    later.ready_at = timezone.now()
    later.save()
    fresh = declaration(later, "UA500500/2024/000999", goods_description="Хек морожений тушками")
    postgres_index_dataset(dataset_id=later.pk)
    assert services.saved_searches_due() == [saved.pk]

    messages = received(investigator, lambda: tasks.search_saved_rerun(saved.pk))

    hits = [m for m in messages if m["type"] == "search.saved_search_hits"]
    assert len(hits) == 1
    assert hits[0]["new"] == 1
    assert hits[0]["text"] == "New results for your saved search «Хек»: 1"
    assert str(hits[0]["url"]).startswith(reverse("search:search"))
    saved.refresh_from_db()
    assert f"customs_declaration:{fresh.pk}" in saved.seen_hits
    assert saved.last_new_hits == 1
    assert services.saved_searches_due() == []
    # Run again with nothing new: no notification.
    assert received(investigator, lambda: tasks.search_saved_rerun(saved.pk)) == []


def test_the_owner_only_deletes(client: Client, investigator: User, supervisor: User, corpus: Corpus) -> None:
    saved = services.saved_search_create(actor=investigator, name="Зоря", params={"q": "Зоря"})
    client.force_login(supervisor)
    assert client.post(reverse("search:saved-delete", args=[saved.pk])).status_code == 404
    client.force_login(investigator)
    assert client.post(reverse("search:saved-delete", args=[saved.pk])).status_code == 302
    assert not SavedSearch.objects.exists()
