"""The default engine, always on: PostgreSQL full-text search over the records, pg_trgm over entity names.

Records match on their generated ``search_vector`` (migration 0002, GIN-indexed) and are ranked with
``ts_rank_cd``. Ranking reads every matching row, so a word that matches a million declarations would rank a
million rows: the ranking is done over the first ``RANK_LIMIT`` matches the index returns, in the same pass that
reads them, and the facets count the first ``CANDIDATE_LIMIT``. A query specific enough to be useful matches far
fewer.

Every query starts from ``restrict()``: the user's organisation, the model permission, ready datasets only.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, Case, Count, FloatField, Max, Min, Q, QuerySet, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest, Left
from psycopg.errors import QueryCanceled

from apps.datasets.models import (
    CustomsDeclaration,
    Dataset,
    Document,
    Record,
    RegistryCompany,
    TaxInvoice,
    TelegramMessage,
)
from apps.entities.models import Entity, EntityIdentifier, EntityName, EntityNameWord
from apps.entities.normalize import company_key, name_words
from apps.search.engines.base import Engine, Hit, ResultKind, SearchFilters, SearchQuery
from apps.search.text import ParsedQuery, tsquery, words_of

if TYPE_CHECKING:
    from apps.accounts.models import User

logger = logging.getLogger(__name__)

CONFIG = "nexus_search"
CANDIDATE_LIMIT = 5000
# Ranking reads each candidate's row: a query ranks at most this many of its matches (the first the index gives).
# Every query specific enough to be useful matches fewer; a word that matches half a million declarations gets
# its best among the first thousand, as it got them among the first five thousand before (docs/performance.md).
RANK_LIMIT = 1000
# A fuzzy name must be this close (pg_trgm word similarity) to count.
NAME_SIMILARITY = 0.45


@dataclass(frozen=True)
class RecordSpec:
    """Where a record kind keeps what the filters and highlights need."""

    model: type[Record]
    date_field: str | None
    country_field: str | None = None
    goods_code_field: str | None = None
    office_field: str | None = None
    # Columns shown highlighted (their clear text; masking tokens in them are never highlighted).
    highlight_fields: tuple[str, ...] = ()


RECORD_SPECS: dict[str, RecordSpec] = {
    ResultKind.CUSTOMS_DECLARATION: RecordSpec(
        CustomsDeclaration,
        "declaration_date",
        country_field="counterparty_country",
        goods_code_field="goods_code",
        office_field="customs_office_code",
        highlight_fields=("goods_description", "counterparty_name"),
    ),
    ResultKind.TAX_INVOICE: RecordSpec(
        TaxInvoice, "invoice_date", goods_code_field="goods_code", highlight_fields=("goods_description",)
    ),
    ResultKind.REGISTRY_COMPANY: RecordSpec(
        RegistryCompany, "registration_date", highlight_fields=("name", "activity_codes")
    ),
    ResultKind.TELEGRAM_MESSAGE: RecordSpec(TelegramMessage, "sent_at__date", highlight_fields=("text",)),
    ResultKind.DOCUMENT: RecordSpec(Document, None, highlight_fields=("text",)),
}


def fold_sql(expression: str) -> str:
    """SQL folding ``expression`` as the generated vectors are folded (migration 0002's function)."""
    return f"nexus_search_fold({expression})"


def _clear(column: str) -> str:
    """A column's text for the index; a masking token (a personal value) is left out."""
    return f"(CASE WHEN {column} LIKE 'PII-%%' THEN '' ELSE coalesce({column}, '') END)"


def _plain(column: str) -> str:
    return f"coalesce({column}, '')"


def _weighted(weight: str, parts: list[str]) -> str:
    text = fold_sql(" || ' ' || ".join(parts))
    return f"setweight(to_tsvector('{CONFIG}'::regconfig, {text}), '{weight}')"


# What each kind's vector holds: A names, numbers and codes; B goods descriptions, message and document text;
# C offices, addresses and activity codes.
VECTOR_SQL: dict[str, str] = {
    ResultKind.CUSTOMS_DECLARATION: " || ".join(
        [
            _weighted(
                "A",
                [
                    _clear("trader_name"),
                    _clear("declarant_name"),
                    _clear("counterparty_name"),
                    _plain("declaration_number"),
                    _clear("trader_code"),
                    _clear("declarant_code"),
                    _plain("goods_code"),
                ],
            ),
            _weighted("B", [_plain("goods_description")]),
            _weighted("C", [_plain("customs_office"), _plain("customs_office_code")]),
        ]
    ),
    ResultKind.TAX_INVOICE: " || ".join(
        [
            _weighted(
                "A",
                [
                    _clear("seller_name"),
                    _clear("buyer_name"),
                    _plain("invoice_number"),
                    _plain("registration_number"),
                    _clear("seller_code"),
                    _clear("buyer_code"),
                    _plain("goods_code"),
                ],
            ),
            _weighted("B", [_plain("goods_description")]),
        ]
    ),
    ResultKind.REGISTRY_COMPANY: " || ".join(
        [
            _weighted("A", [_clear("name"), _clear("short_name"), _clear("code")]),
            _weighted("C", [_clear("address"), _plain("activity_codes"), _plain("legal_form")]),
        ]
    ),
    ResultKind.TELEGRAM_MESSAGE: " || ".join(
        [
            _weighted("A", [_plain("channel"), _clear("forwarded_from"), _plain("codes::text")]),
            _weighted("B", [_plain("text")]),
        ]
    ),
    ResultKind.DOCUMENT: " || ".join([_weighted("A", [_plain("filename")]), _weighted("B", [_plain("text")])]),
}
INDEX_BATCH = 50_000
# Connections filling one dataset's vectors at once (each takes its own id ranges); a dataset of one batch or less
# is filled on the caller's connection, inside its transaction.
INDEX_CONNECTIONS = 2
# Each new vector also enters the GIN index's pending list; a larger list per session merges it in fewer, larger
# steps (the rest is merged by gin_clean_pending_list() at the end).
INDEX_SESSION_SETTINGS = ("SET LOCAL gin_pending_list_limit = '256MB'", "SET LOCAL synchronous_commit = off")


def _index_range(table: str, vector_sql: str, dataset_id: int, start: int, stop: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in INDEX_SESSION_SETTINGS:
            cursor.execute(statement)
        cursor.execute(
            f"UPDATE {table} SET search_vector = {vector_sql} "  # noqa: S608 - names from models
            "WHERE dataset_id = %s AND id >= %s AND id < %s AND search_vector IS NULL",
            [dataset_id, start, stop],
        )
        return cursor.rowcount


def _index_ranges_in_thread(table: str, vector_sql: str, dataset_id: int, starts: list[int]) -> int:
    try:
        return sum(_index_range(table, vector_sql, dataset_id, start, start + INDEX_BATCH) for start in starts)
    finally:
        connection.close()


def postgres_index_dataset(*, dataset_id: int) -> int:
    """Fill the ``search_vector`` of a dataset's records that have none, in batches of ``INDEX_BATCH`` rows, each
    committed on its own, over ``INDEX_CONNECTIONS`` connections; the number of rows indexed. Safe to run twice.

    The cost is the UPDATE itself (a new row version in every index of the table), not the vectors: measured on
    5,000,000 declarations, computing the vectors is a fifth of it (docs/performance.md)."""
    dataset = Dataset.objects.filter(pk=dataset_id).values_list("kind", flat=True).first()
    if dataset not in VECTOR_SQL:
        return 0
    model = RECORD_SPECS[dataset].model
    table = model._meta.db_table
    bounds = model.objects.filter(dataset_id=dataset_id).aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return 0
    starts = list(range(bounds["low"], bounds["high"] + 1, INDEX_BATCH))
    if len(starts) == 1:
        return _index_range(table, VECTOR_SQL[dataset], dataset_id, starts[0], starts[0] + INDEX_BATCH)
    # Interleaved, so both connections work through the table front to back together.
    shares = [starts[index::INDEX_CONNECTIONS] for index in range(INDEX_CONNECTIONS)]
    with ThreadPoolExecutor(max_workers=INDEX_CONNECTIONS) as pool:
        indexed = sum(
            pool.map(lambda share: _index_ranges_in_thread(table, VECTOR_SQL[dataset], dataset_id, share), shares)
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [f"{table}_search"])
    return indexed


def apply_filters(queryset: QuerySet[Any], spec: RecordSpec, filters: SearchFilters) -> QuerySet[Any]:
    """The facet filters a record kind understands; a filter the kind has no field for excludes the kind."""
    if filters.date_from or filters.date_to:
        if spec.date_field is None:
            return queryset.none()
        if filters.date_from:
            queryset = queryset.filter(**{f"{spec.date_field}__gte": filters.date_from})
        if filters.date_to:
            queryset = queryset.filter(**{f"{spec.date_field}__lte": filters.date_to})
    if filters.country:
        if spec.country_field is None:
            return queryset.none()
        queryset = queryset.filter(**{spec.country_field: filters.country})
    if filters.chapter:
        if spec.goods_code_field is None:
            return queryset.none()
        queryset = queryset.filter(**{f"{spec.goods_code_field}__startswith": filters.chapter})
    if filters.office:
        if spec.office_field is None:
            return queryset.none()
        queryset = queryset.filter(**{spec.office_field: filters.office})
    if filters.dataset_id is not None:
        queryset = queryset.filter(dataset_id=filters.dataset_id)
    return queryset


# The column is named without its table: inside a subquery Django renames the table (U0), and a qualified name
# would silently point at the outer query's row. No table these queries join has a column of that name.
def _match(query_text: str) -> RawSQL:
    return RawSQL("search_vector @@ to_tsquery(%s::regconfig, %s)", (CONFIG, query_text), output_field=BooleanField())


def _rank(query_text: str) -> RawSQL:
    return RawSQL(
        "ts_rank_cd(search_vector, to_tsquery(%s::regconfig, %s))", (CONFIG, query_text), output_field=FloatField()
    )


def record_candidates(*, user: User, query: SearchQuery, kind: str) -> QuerySet[Any] | None:
    """The first ``CANDIDATE_LIMIT`` matching records of a kind the user may see (a values queryset of ids)."""
    spec = RECORD_SPECS[kind]
    text = record_tsquery(query.parsed)
    if not text:
        return None
    records = apply_filters(spec.model.objects.restrict(user, "view"), spec, query.filters)
    return records.filter(_match(text)).values("pk")[:CANDIDATE_LIMIT]


def record_tsquery(parsed: ParsedQuery) -> str:
    return tsquery(parsed)


class PostgresEngine:
    name: str = Engine.POSTGRES

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
        if kind == ResultKind.ENTITY:
            return entity_search(user=user, query=query, limit=limit)
        if kind not in RECORD_SPECS:
            return []
        hits = self._records(user=user, query=query, kind=kind, limit=limit, any_term=False, budget_ms=budget_ms)
        if not hits and any_term and len(query.parsed.terms) > 1:
            # No record has every word: rank those that have some, so a long question still finds something.
            hits = self._records(user=user, query=query, kind=kind, limit=limit, any_term=True, budget_ms=budget_ms)
        return hits

    def _records(
        self, *, user: User, query: SearchQuery, kind: str, limit: int, any_term: bool, budget_ms: int | None
    ) -> list[Hit]:
        spec = RECORD_SPECS[kind]
        text = tsquery(query.parsed, any_term=any_term)
        if not text:
            return []
        records = apply_filters(spec.model.objects.restrict(user, "view"), spec, query.filters)
        # The candidates are ranked as they are read: one pass over their rows, not a second lookup by id.
        candidates = records.filter(_match(text)).annotate(search_rank=_rank(text)).values_list("pk", "search_rank")
        try:
            sql, params = candidates[:RANK_LIMIT].query.sql_with_params()
        except EmptyResultSet:  # a filter this kind has no field for
            return []
        ranked = f"SELECT * FROM ({sql}) AS candidates ORDER BY 2 DESC, 1 DESC LIMIT %s"  # noqa: S608 - Django's SQL
        if budget_ms is None:
            with connection.cursor() as cursor:
                cursor.execute(ranked, [*params, limit])
                rows = cursor.fetchall()
        else:
            found = _fetch_within(ranked, [*params, limit], budget_ms)
            if found is None:
                logger.info("full-text search of %s gave up after %s ms", kind, budget_ms)
                return []
            rows = found
        return [
            Hit(kind=kind, pk=pk, engine=Engine.POSTGRES, rank=position, score=float(score))
            for position, (pk, score) in enumerate(rows)
        ]


def _fetch_within(sql: str, params: list[Any], budget_ms: int) -> list[tuple[Any, ...]] | None:
    """The rows of ``sql``, or ``None`` when PostgreSQL takes longer than ``budget_ms`` (``statement_timeout``).

    In a savepoint of its own: a cancelled statement rolls back to it, and the setting with it; a finished one
    sets the timeout back."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                [f"{budget_ms}ms"],
            )
            previous = cursor.fetchone()[0]
            cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError as error:
        if isinstance(error.__cause__, QueryCanceled):
            return None
        raise
    return rows


# --- entities --------------------------------------------------------------------------------------------------


def _entity_scope(user: User) -> QuerySet[Entity]:
    return Entity.objects.restrict(user, "view").filter(merged_into__isnull=True)


def _organization_filter(user: User, field: str = "organization_id") -> dict[str, int]:
    """Narrow the name and identifier tables to the user's organisation (the entity scope re-checks)."""
    if user.is_superuser or user.organization_id is None:
        return {}
    return {field: user.organization_id}


def entity_search(*, user: User, query: SearchQuery, limit: int) -> list[Hit]:
    """Entities by identifier (any spelling of a code) first, then by name in any script, typos allowed.

    Personal names and identifiers are stored as tokens and their entities are left out: a typed name or number
    never tells whether a person's data is held.
    """
    parsed = query.parsed
    scope = _entity_scope(user)
    if query.filters.country:
        scope = scope.filter(country=query.filters.country)
    ranked: list[tuple[int, str]] = []
    if parsed.codes:
        identifiers = (
            EntityIdentifier.objects.filter(value__in=parsed.codes, **_organization_filter(user))
            .exclude(value__startswith="PII-")
            .values_list("entity_id", flat=True)[:limit]
        )
        ranked += [(entity_id, Engine.POSTGRES) for entity_id in identifiers]
    key = company_key(" ".join(parsed.words)) if parsed.words else ""
    if len(key) >= 3:
        names = (
            EntityName.objects.filter(**_organization_filter(user))
            .exclude(match_key="")
            .filter(
                Q(match_key__contains=key) | Q(match_key__trigram_similar=key) | Q(match_key__trigram_word_similar=key)
            )
            .annotate(similarity=Greatest(TrigramWordSimilarity(key, "match_key"), TrigramSimilarity("match_key", key)))
            .filter(similarity__gte=NAME_SIMILARITY)
            .order_by("-similarity", "-mention_count")
            .values_list("entity_id", flat=True)[: limit * 3]
        )
        ranked += [(entity_id, Engine.TRIGRAM) for entity_id in names]
    order: dict[int, str] = {}
    for entity_id, engine in ranked:
        order.setdefault(entity_id, engine)
    visible = set(scope.filter(pk__in=list(order), is_pii=False).values_list("pk", flat=True))
    hits: list[Hit] = []
    for entity_id, engine in order.items():
        if entity_id in visible:
            hits.append(Hit(kind=ResultKind.ENTITY, pk=entity_id, engine=engine, rank=len(hits)))
        if len(hits) >= limit:
            break
    return hits


@dataclass(frozen=True)
class Suggestion:
    label: str
    detail: str
    entity_id: int


def _entities_by_name_prefix(user: User, text: str, limit: int) -> list[int]:
    """Entities with a name word starting like each typed word (in the matching keys' Latin skeleton, so any
    script), those with the last word whole first, then the most recorded: one range of the name words' index per
    typed word."""
    typed = name_words(" ".join(words_of(text)))
    if not typed or len(typed[-1]) < 2:
        return []
    *others, last = typed
    words = EntityNameWord.objects.filter(word__startswith=last, **_organization_filter(user))
    for other in others:
        words = words.filter(
            entity_id__in=EntityNameWord.objects.filter(word__startswith=other, **_organization_filter(user)).values(
                "entity_id"
            )
        )
    ranked = (
        words.values("entity_id")
        .annotate(whole=Max(Case(When(word=last, then=1), default=0)), mentions=Max("mention_count"))
        .order_by("-whole", "-mentions", "entity_id")
        .values_list("entity_id", flat=True)[:limit]
    )
    return list(ranked)


def autocomplete(*, user: User, text: str, limit: int = 8) -> list[Suggestion]:
    """Entity names and codes that start like ``text`` (names in any script, codes with or without zeros)."""
    text = text.strip()
    if not text:
        return []
    scope = _entity_scope(user).filter(is_pii=False)
    digits = "".join(text.split())
    entity_ids: list[int] = []
    details: dict[int, str] = {}
    if digits.isdigit() and len(digits) >= 3:
        # The index (migration 0002) is on the value without leading zeros; so is the typed prefix.
        prefix = RawSQL(
            "ltrim(entities_entityidentifier.value, '0') LIKE %s",
            (digits.lstrip("0").replace("%", "").replace("_", "") + "%",),
            output_field=BooleanField(),
        )
        rows = (
            EntityIdentifier.objects.filter(prefix, **_organization_filter(user))
            .exclude(value__startswith="PII-")
            .order_by("value")
            .values_list("entity_id", "value")[: limit * 2]
        )
        for entity_id, value in rows:
            if entity_id not in details:
                entity_ids.append(entity_id)
                details[entity_id] = value
    if len(entity_ids) < limit:
        for entity_id in _entities_by_name_prefix(user, text, limit * 3):
            if entity_id not in details:
                entity_ids.append(entity_id)
                details[entity_id] = ""
    entities = {entity.pk: entity for entity in scope.filter(pk__in=entity_ids).only("pk", "name", "kind", "country")}
    suggestions = []
    for entity_id in entity_ids:
        entity = entities.get(entity_id)
        if entity is None:
            continue
        detail = details[entity_id] or entity.get_kind_display()
        suggestions.append(Suggestion(label=entity.name, detail=str(detail), entity_id=entity.pk))
        if len(suggestions) >= limit:
            break
    return suggestions


# --- facets ----------------------------------------------------------------------------------------------------


def record_facets(*, user: User, query: SearchQuery) -> dict[str, dict[str, int]]:
    """Counts of the matching records (the first ``CANDIDATE_LIMIT`` of each kind) by kind, country, goods chapter,
    customs office and dataset."""
    facets: dict[str, dict[str, int]] = {"kind": {}, "country": {}, "chapter": {}, "office": {}, "dataset": {}}
    for kind, spec in RECORD_SPECS.items():
        if not query.filters.allows(kind):
            continue
        candidates = record_candidates(user=user, query=query, kind=kind)
        if candidates is None:
            continue
        matched = spec.model.objects.filter(pk__in=candidates)
        rows = list(matched.values("dataset_id").annotate(n=Count("pk")))
        total = sum(row["n"] for row in rows)
        if total:
            facets["kind"][kind] = total
        for row in rows:
            key = str(row["dataset_id"])
            facets["dataset"][key] = facets["dataset"].get(key, 0) + row["n"]
        if spec.country_field:
            for value, n in matched.values_list(spec.country_field).annotate(n=Count("pk")):
                if value:
                    facets["country"][value] = facets["country"].get(value, 0) + n
        if spec.goods_code_field:
            chapters = matched.annotate(chapter=Left(spec.goods_code_field, 2)).values_list("chapter")
            for value, n in chapters.annotate(n=Count("pk")):
                if value:
                    facets["chapter"][value] = facets["chapter"].get(value, 0) + n
        if spec.office_field:
            for value, n in matched.values_list(spec.office_field).annotate(n=Count("pk")):
                if value:
                    facets["office"][value] = facets["office"].get(value, 0) + n
    return {name: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))) for name, counts in facets.items()}
