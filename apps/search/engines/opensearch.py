"""OpenSearch for the records at scale (when ``OPENSEARCH_URL`` is set), through opensearch-py.

Each record kind has an index template and an alias (``nexus-customs_declaration``) over one concrete index
(``nexus-customs_declaration-20260101120000``). Datasets are bulk-indexed into the alias by the post-load hook;
a full reindex builds a new index beside the live one and swaps the alias in one atomic ``_aliases`` call, so
searches never see a half-built index (``manage.py search_reindex --opensearch``).

What is indexed is what PostgreSQL indexes: clear names, codes and text, never a masking token (tokens are cut
out of free text too), so a personal value is not searchable here either. Results are read back from PostgreSQL
through ``restrict()``. Query building is pure (``search_body``) and unit-tested; the live suite in
``tests/search/test_opensearch_live.py`` runs against a cluster when ``OPENSEARCH_URL`` is set.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from opensearchpy import OpenSearch, helpers

from apps.datasets.models import Dataset, DatasetStatus, Record
from apps.search.engines.base import RECORD_KINDS, Engine, Hit, ResultKind, SearchQuery
from apps.search.engines.postgres import RECORD_SPECS
from apps.search.text import ParsedQuery, Term

if TYPE_CHECKING:
    from apps.accounts.models import User

BULK_CHUNK = 2000
_TOKEN = re.compile(r"PII-[a-z]+-[A-Z2-7]+")

# Which columns of a kind go into which field of its documents.
NAME_COLUMNS: dict[str, tuple[str, ...]] = {
    ResultKind.CUSTOMS_DECLARATION: ("trader_name", "declarant_name", "counterparty_name"),
    ResultKind.TAX_INVOICE: ("seller_name", "buyer_name"),
    ResultKind.REGISTRY_COMPANY: ("name", "short_name"),
    ResultKind.TELEGRAM_MESSAGE: ("channel", "forwarded_from"),
    ResultKind.DOCUMENT: ("filename",),
}
CODE_COLUMNS: dict[str, tuple[str, ...]] = {
    ResultKind.CUSTOMS_DECLARATION: ("declaration_number", "trader_code", "declarant_code", "goods_code"),
    ResultKind.TAX_INVOICE: ("invoice_number", "registration_number", "seller_code", "buyer_code", "goods_code"),
    ResultKind.REGISTRY_COMPANY: ("code",),
    ResultKind.TELEGRAM_MESSAGE: (),
    ResultKind.DOCUMENT: ("sha256",),
}
BODY_COLUMNS: dict[str, tuple[str, ...]] = {
    ResultKind.CUSTOMS_DECLARATION: ("goods_description",),
    ResultKind.TAX_INVOICE: ("goods_description",),
    ResultKind.REGISTRY_COMPANY: ("activity_codes", "address"),
    ResultKind.TELEGRAM_MESSAGE: ("text",),
    ResultKind.DOCUMENT: ("text",),
}
OTHER_COLUMNS: dict[str, tuple[str, ...]] = {ResultKind.CUSTOMS_DECLARATION: ("customs_office", "customs_office_code")}

ANALYSIS = {
    "char_filter": {"apostrophes": {"type": "mapping", "mappings": ["'=>", "’=>", "ʼ=>", "`=>"]}},
    "filter": {
        "russian_stem": {"type": "stemmer", "language": "russian"},
        "english_stem": {"type": "stemmer", "language": "english"},
    },
    "analyzer": {
        # Ukrainian has no stemmer without a plugin: the Russian one takes the shared endings, and the ``plain``
        # sub-fields (no stemming) take the query-side stems as prefixes, as PostgreSQL does.
        "nexus_text": {
            "type": "custom",
            "char_filter": ["apostrophes"],
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", "russian_stem", "english_stem"],
        },
        "nexus_plain": {
            "type": "custom",
            "char_filter": ["apostrophes"],
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding"],
        },
    },
}
TEXT_FIELD = {
    "type": "text",
    "analyzer": "nexus_text",
    "fields": {"plain": {"type": "text", "analyzer": "nexus_plain"}},
}
MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "organization_id": {"type": "integer"},
        "dataset_id": {"type": "long"},
        "date": {"type": "date"},
        "country": {"type": "keyword"},
        "chapter": {"type": "keyword"},
        "office": {"type": "keyword"},
        "names": TEXT_FIELD,
        "codes": {"type": "keyword"},
        "body": TEXT_FIELD,
        "other": TEXT_FIELD,
    },
}


def alias_name(kind: str) -> str:
    return f"{settings.OPENSEARCH_INDEX_PREFIX}-{kind}"


def index_template(kind: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{alias_name(kind)}-*"],
        "template": {
            "settings": {"analysis": ANALYSIS, "number_of_shards": 1, "refresh_interval": "1s"},
            "mappings": MAPPINGS,
        },
    }


def _clear(value: Any) -> str:
    """A value as it may be indexed: masking tokens removed."""
    if value in (None, ""):
        return ""
    return " ".join(_TOKEN.sub(" ", str(value)).split())


def record_document(kind: str, record: Record) -> dict[str, Any]:
    spec = RECORD_SPECS[kind]
    date: Any = None
    if spec.date_field:
        date = getattr(record, spec.date_field.split("__")[0])
        if isinstance(date, datetime.datetime):
            date = date.date()
    codes = [_clear(getattr(record, column)) for column in CODE_COLUMNS[kind]]
    goods_code = str(getattr(record, spec.goods_code_field) or "") if spec.goods_code_field else ""
    return {
        "organization_id": record.organization_id,
        "dataset_id": record.dataset_id,
        "date": date.isoformat() if date else None,
        "country": str(getattr(record, spec.country_field) or "") if spec.country_field else "",
        "chapter": goods_code[:2],
        "office": str(getattr(record, spec.office_field) or "") if spec.office_field else "",
        "names": " ".join(_clear(getattr(record, column)) for column in NAME_COLUMNS[kind]).strip(),
        "codes": [code.lower() for code in codes if code],
        "body": " ".join(_clear(getattr(record, column)) for column in BODY_COLUMNS[kind]).strip(),
        "other": " ".join(_clear(getattr(record, column)) for column in OTHER_COLUMNS.get(kind, ())).strip(),
    }


def _filters(query: SearchQuery, organization_id: int) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"organization_id": organization_id}}]
    spec_filters = query.filters
    if spec_filters.date_from or spec_filters.date_to:
        bounds = {}
        if spec_filters.date_from:
            bounds["gte"] = spec_filters.date_from.isoformat()
        if spec_filters.date_to:
            bounds["lte"] = spec_filters.date_to.isoformat()
        filters.append({"range": {"date": bounds}})
    for field, value in (
        ("country", spec_filters.country),
        ("chapter", spec_filters.chapter),
        ("office", spec_filters.office),
    ):
        if value:
            filters.append({"term": {field: value}})
    if spec_filters.dataset_id is not None:
        filters.append({"term": {"dataset_id": spec_filters.dataset_id}})
    return filters


def _term_clause(parsed_term: Term) -> dict[str, Any]:
    alternatives: list[dict[str, Any] | None] = [
        {"terms": {"codes": [value.lower() for value in parsed_term.exact]}} if parsed_term.exact else None,
        *(
            {"prefix": {field: {"value": prefix.lower()}}}
            for prefix in parsed_term.prefixes
            for field in ("names.plain", "body.plain", "other.plain")
        ),
        *(
            {"prefix": {"codes": {"value": prefix.lower()}}}
            for prefix in (parsed_term.prefixes if parsed_term.is_code else ())
        ),
        {
            "multi_match": {
                "query": parsed_term.word,
                "fields": ["names^3", "body", "other"],
                "fuzziness": "AUTO" if not parsed_term.is_code else 0,
            }
        },
    ]
    return {"bool": {"should": [clause for clause in alternatives if clause], "minimum_should_match": 1}}


def search_body(query: SearchQuery, *, organization_id: int, limit: int, any_term: bool = False) -> dict[str, Any]:
    """The ``_search`` body: every term (any, with ``any_term``) matched by one of its spellings, names weighed
    above descriptions, within the organisation and the query's filters."""
    parsed: ParsedQuery = query.parsed
    clauses = [_term_clause(term) for term in parsed.terms]
    combined = {"should": clauses, "minimum_should_match": 1} if any_term else {"must": clauses}
    text_query = {"bool": combined}
    return {
        "size": limit,
        "track_total_hits": False,
        "_source": False,
        "query": {"bool": {"must": [text_query], "filter": _filters(query, organization_id)}},
        "sort": ["_score", {"date": {"order": "desc", "missing": "_last"}}],
    }


@lru_cache(maxsize=1)
def _client(url: str) -> OpenSearch:
    return OpenSearch(hosts=[url], timeout=30)


def opensearch_client() -> OpenSearch:
    return _client(settings.OPENSEARCH_URL)


def template_install(client: OpenSearch, kind: str) -> None:
    client.indices.put_index_template(name=alias_name(kind), body=index_template(kind))


def index_create(client: OpenSearch, kind: str) -> str:
    """A new concrete index for a kind (its template applies); its name."""
    template_install(client, kind)
    name = f"{alias_name(kind)}-{timezone.now():%Y%m%d%H%M%S%f}"
    client.indices.create(index=name)
    return name


def alias_ensure(client: OpenSearch, kind: str) -> str:
    """The alias of a kind, created over a first index when it does not exist yet."""
    alias = alias_name(kind)
    if not client.indices.exists_alias(name=alias):
        client.indices.put_alias(index=index_create(client, kind), name=alias)
    return alias


def alias_swap_actions(alias: str, old_indexes: Iterable[str], new_index: str) -> dict[str, Any]:
    """One atomic ``_aliases`` request: the alias leaves the old indexes and points at the new one."""
    actions: list[dict[str, Any]] = [{"remove": {"index": index, "alias": alias}} for index in old_indexes]
    actions.append({"add": {"index": new_index, "alias": alias}})
    return {"actions": actions}


def _actions(kind: str, records: Iterable[Record], index: str) -> Iterator[dict[str, Any]]:
    for record in records:
        yield {"_index": index, "_id": record.pk, "_source": record_document(kind, record)}


def opensearch_index_dataset(*, dataset_id: int) -> int:
    """Bulk-index a loaded dataset's records into its kind's alias; safe to run twice (ids are the records')."""
    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.kind not in RECORD_KINDS or dataset.status != DatasetStatus.READY:
        return 0
    client = opensearch_client()
    alias = alias_ensure(client, dataset.kind)
    records = RECORD_SPECS[dataset.kind].model.objects.filter(dataset_id=dataset_id).order_by("pk")
    indexed, _errors = helpers.bulk(
        client, _actions(dataset.kind, records.iterator(chunk_size=BULK_CHUNK), alias), chunk_size=BULK_CHUNK
    )
    return int(indexed)


def opensearch_reindex(*, kind: str) -> str:
    """Rebuild a kind's index from PostgreSQL beside the live one, then swap the alias; the new index's name."""
    client = opensearch_client()
    alias = alias_name(kind)
    new_index = index_create(client, kind)
    records = (
        RECORD_SPECS[kind].model.objects.filter(dataset__status=DatasetStatus.READY).order_by("pk").iterator(BULK_CHUNK)
    )
    helpers.bulk(client, _actions(kind, records, new_index), chunk_size=BULK_CHUNK)
    client.indices.refresh(index=new_index)
    old = list(client.indices.get_alias(name=alias)) if client.indices.exists_alias(name=alias) else []
    client.indices.update_aliases(body=alias_swap_actions(alias, old, new_index))
    for index in old:
        client.indices.delete(index=index)
    return new_index


class OpenSearchEngine:
    name: str = Engine.OPENSEARCH

    def search(
        self,
        *,
        user: User,
        query: SearchQuery,
        kind: str,
        limit: int,
        any_term: bool = True,
        budget_ms: int | None = None,
    ) -> list[Hit]:
        if kind not in RECORD_SPECS or user.organization_id is None or not query.parsed.terms:
            return []
        client = opensearch_client()
        alias = alias_name(kind)
        if not client.indices.exists_alias(name=alias):
            return []
        ids = self._ids(client, alias, query, user.organization_id, limit, any_term=False, budget_ms=budget_ms)
        if not ids and any_term and len(query.parsed.terms) > 1:
            ids = self._ids(client, alias, query, user.organization_id, limit, any_term=True, budget_ms=budget_ms)
        spec = RECORD_SPECS[kind]
        visible = set(spec.model.objects.restrict(user, "view").filter(pk__in=ids).values_list("pk", flat=True))
        ranked = [pk for pk in ids if pk in visible]
        return [Hit(kind=kind, pk=pk, engine=Engine.OPENSEARCH, rank=rank) for rank, pk in enumerate(ranked)]

    def _ids(
        self,
        client: OpenSearch,
        alias: str,
        query: SearchQuery,
        organization_id: int,
        limit: int,
        *,
        any_term: bool,
        budget_ms: int | None,
    ) -> list[int]:
        body = search_body(query, organization_id=organization_id, limit=limit, any_term=any_term)
        if budget_ms is not None:
            body["timeout"] = f"{budget_ms}ms"  # the hits found in time
        response = client.search(index=alias, body=body)
        return [int(hit["_id"]) for hit in response["hits"]["hits"]]
