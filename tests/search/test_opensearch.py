"""OpenSearch query building, index templates, documents and the alias swap, without a cluster.

The same code runs against a cluster in ``test_opensearch_live.py`` when ``OPENSEARCH_URL`` is set.
"""

from __future__ import annotations

import datetime

import pytest
from django.test import override_settings

from apps.search.engines import opensearch
from apps.search.engines.base import ResultKind, SearchFilters, SearchQuery
from tests.search.conftest import SOLE_TRADER_RNOKPP, Corpus


def test_every_term_must_match_one_of_its_spellings_within_the_organisation() -> None:
    query = SearchQuery(
        text="Зоря 123456",
        filters=SearchFilters(
            date_from=datetime.date(2024, 1, 1), country="CN", chapter="03", office="UA500000", dataset_id=7
        ),
    )
    body = opensearch.search_body(query, organization_id=42, limit=10)
    assert body["size"] == 10
    assert body["_source"] is False
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"organization_id": 42}} in filters
    assert {"range": {"date": {"gte": "2024-01-01"}}} in filters
    assert {"term": {"country": "CN"}} in filters
    assert {"term": {"chapter": "03"}} in filters
    assert {"term": {"office": "UA500000"}} in filters
    assert {"term": {"dataset_id": 7}} in filters
    code_clause, word_clause = body["query"]["bool"]["must"][0]["bool"]["must"]
    codes = code_clause["bool"]["should"]
    assert {"terms": {"codes": ["123456", "00123456", "0000123456"]}} in codes
    words = word_clause["bool"]["should"]
    assert {"prefix": {"names.plain": {"value": "зор"}}} in words
    assert {"prefix": {"names.plain": {"value": "zoria"}}} in words
    fuzzy = next(clause["multi_match"] for clause in words if "multi_match" in clause)
    assert fuzzy == {"query": "зоря", "fields": ["names^3", "body", "other"], "fuzziness": "AUTO"}


def test_any_term_relaxes_the_words_to_should() -> None:
    body = opensearch.search_body(SearchQuery(text="риба хек"), organization_id=1, limit=5, any_term=True)
    text_query = body["query"]["bool"]["must"][0]["bool"]
    assert text_query["minimum_should_match"] == 1
    assert len(text_query["should"]) == 2


def test_templates_aliases_and_swap(settings: object) -> None:
    with override_settings(OPENSEARCH_INDEX_PREFIX="nx"):
        template = opensearch.index_template(ResultKind.CUSTOMS_DECLARATION)
        assert opensearch.alias_name(ResultKind.CUSTOMS_DECLARATION) == "nx-customs_declaration"
    assert template["index_patterns"] == ["nx-customs_declaration-*"]
    mappings = template["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["properties"]["codes"] == {"type": "keyword"}
    assert mappings["properties"]["names"]["fields"]["plain"]["analyzer"] == "nexus_plain"
    analyzers = template["template"]["settings"]["analysis"]["analyzer"]
    assert "russian_stem" in analyzers["nexus_text"]["filter"]
    swap = opensearch.alias_swap_actions("nx-document", ["nx-document-1", "nx-document-2"], "nx-document-3")
    assert swap == {
        "actions": [
            {"remove": {"index": "nx-document-1", "alias": "nx-document"}},
            {"remove": {"index": "nx-document-2", "alias": "nx-document"}},
            {"add": {"index": "nx-document-3", "alias": "nx-document"}},
        ]
    }


@pytest.mark.django_db
def test_documents_hold_clear_values_only(corpus: Corpus) -> None:
    zoria = opensearch.record_document(ResultKind.CUSTOMS_DECLARATION, corpus.zoria)
    assert zoria["organization_id"] == corpus.organization.pk
    assert zoria["date"] == "2024-03-01"
    assert zoria["chapter"] == "03"
    assert zoria["office"] == "UA500000"
    assert zoria["country"] == "CN"
    assert "Зоря-Схід" in zoria["names"]
    assert zoria["codes"] == ["ua500500/2024/000123", "00123456", "0303101100"]
    shoes = opensearch.record_document(ResultKind.CUSTOMS_DECLARATION, corpus.shoes)
    assert "PII-" not in str(shoes)
    assert SOLE_TRADER_RNOKPP not in str(shoes)
    message = opensearch.record_document(ResultKind.TELEGRAM_MESSAGE, corpus.message)
    assert "PII-" not in message["body"]
    assert message["body"].startswith("Обговорюємо поставки")
    assert message["date"] == "2024-03-02"
