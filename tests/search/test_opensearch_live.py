"""OpenSearch against a real cluster: runs only when OPENSEARCH_URL is set, and says so when it is skipped.

    OPENSEARCH_URL=http://localhost:9200 .venv/bin/pytest tests/search/test_opensearch_live.py

Each run uses its own index prefix and deletes its indexes afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.accounts.models import User
from apps.search.engines import opensearch
from apps.search.engines.base import ResultKind, SearchQuery
from apps.search.selectors import search_kind_results
from tests.search.conftest import SOLE_TRADER_NAME, Corpus

OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL", "")

pytestmark = [
    pytest.mark.opensearch,
    pytest.mark.django_db,
    pytest.mark.skipif(not OPENSEARCH_URL, reason="OPENSEARCH_URL is not set: the live OpenSearch suite was NOT run"),
]


@pytest.fixture
def cluster() -> Iterator[str]:
    prefix = f"nexus-test-{uuid.uuid4().hex[:8]}"
    with override_settings(OPENSEARCH_URL=OPENSEARCH_URL, OPENSEARCH_INDEX_PREFIX=prefix):
        opensearch._client.cache_clear()
        yield prefix
        client = opensearch.opensearch_client()
        client.indices.delete(index=f"{prefix}-*")
        for kind in ResultKind.values:
            if client.indices.exists_index_template(name=f"{prefix}-{kind}"):
                client.indices.delete_index_template(name=f"{prefix}-{kind}")


def refreshed(prefix: str) -> None:
    opensearch.opensearch_client().indices.refresh(index=f"{prefix}-*")


def test_bulk_index_then_search_through_the_alias(cluster: str, investigator: User, corpus: Corpus) -> None:
    assert opensearch.opensearch_index_dataset(dataset_id=corpus.declarations.pk) == 4
    refreshed(cluster)
    for text, expected in (("Зоря", corpus.zoria), ("Zoria", corpus.zoria), ("123456", corpus.zoria)):
        results = search_kind_results(
            user=investigator, query=SearchQuery(text=text), kind=ResultKind.CUSTOMS_DECLARATION, limit=3
        )
        assert results[0].pk == expected.pk, text
        assert results[0].engines == ["opensearch"]
    masked = search_kind_results(
        user=investigator, query=SearchQuery(text=SOLE_TRADER_NAME), kind=ResultKind.CUSTOMS_DECLARATION, limit=3
    )
    assert masked == []


def test_reindex_swaps_the_alias_without_losing_search(cluster: str, investigator: User, corpus: Corpus) -> None:
    opensearch.opensearch_index_dataset(dataset_id=corpus.declarations.pk)
    client = opensearch.opensearch_client()
    alias = opensearch.alias_name(ResultKind.CUSTOMS_DECLARATION)
    before = set(client.indices.get_alias(name=alias))
    new_index = opensearch.opensearch_reindex(kind=ResultKind.CUSTOMS_DECLARATION)
    after = set(client.indices.get_alias(name=alias))
    assert after == {new_index}
    assert not before & after
    results = search_kind_results(
        user=investigator, query=SearchQuery(text="ноутбук"), kind=ResultKind.CUSTOMS_DECLARATION, limit=3
    )
    assert results[0].pk == corpus.laptops.pk
