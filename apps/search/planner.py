"""The planner: which engines answer a query, and one ranked list from theirs.

- Codes and exact names (a number, an ЄДРПОУ, a short name) go to the text engines only: PostgreSQL, or
  OpenSearch when it is configured, plus the fuzzy entity names; a vector neighbour of a code means nothing.
- Descriptive queries (several words, a question) go to the text engines and, for the kinds whose text is
  embedded, to the vector store as well ("hybrid").

Lists are merged by reciprocal rank fusion (each hit scores ``1 / (RRF_K + rank)`` in every list it is in), which
needs no comparable scores across engines. Each result keeps the names of the engines that found it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

from apps.search.engines.base import SEMANTIC_KINDS, Hit, ResultKind, SearchEngine, SearchMode, SearchQuery
from apps.search.engines.postgres import PostgresEngine

if TYPE_CHECKING:
    from apps.accounts.models import User

logger = logging.getLogger(__name__)

RRF_K = 60
TEXT_BUDGET_MS = 150
# A query of this many words (codes aside), or this long, is descriptive.
DESCRIPTIVE_WORDS = 4
DESCRIPTIVE_LENGTH = 32


@dataclass
class FusedHit:
    kind: str
    pk: int
    score: float
    engines: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.pk}"


@dataclass(frozen=True)
class Plan:
    mode: str
    text_engine: str
    semantic: bool


def query_mode(query: SearchQuery) -> str:
    if query.mode in (SearchMode.EXACT, SearchMode.HYBRID):
        return query.mode
    parsed = query.parsed
    if not parsed.terms or parsed.is_codes_only:
        return SearchMode.EXACT
    if len(parsed.words) >= DESCRIPTIVE_WORDS or len(parsed.text) >= DESCRIPTIVE_LENGTH:
        return SearchMode.HYBRID
    return SearchMode.EXACT


def text_engine() -> SearchEngine:
    if settings.OPENSEARCH_URL:
        from apps.search.engines.opensearch import OpenSearchEngine

        return OpenSearchEngine()
    return PostgresEngine()


def plan_for(query: SearchQuery) -> Plan:
    mode = query_mode(query)
    return Plan(mode=mode, text_engine=str(text_engine().name), semantic=mode == SearchMode.HYBRID)


def fuse(lists: list[list[Hit]], *, limit: int) -> list[FusedHit]:
    fused: dict[str, FusedHit] = {}
    for hits in lists:
        for hit in hits:
            entry = fused.get(hit.key)
            if entry is None:
                entry = fused[hit.key] = FusedHit(kind=hit.kind, pk=hit.pk, score=0.0)
            entry.score += 1.0 / (RRF_K + hit.rank + 1)
            if hit.engine not in entry.engines:
                entry.engines.append(hit.engine)
    return sorted(fused.values(), key=lambda entry: (-entry.score, entry.kind, -entry.pk))[:limit]


def search_kind(*, user: User, query: SearchQuery, kind: str, limit: int) -> list[FusedHit]:
    """The fused hits of one kind: the text engine's, the fuzzy names' (entities) and the vectors' (hybrid).

    When the vectors found records, the text engine ranks only records with every word (ranking those with any
    word is what the vectors do better), and only within ``TEXT_BUDGET_MS``: a question of common words («код
    виробника») can take GIN half a second at 5,000,000 declarations, and the vectors have answered it already."""
    plan = plan_for(query)
    semantic: list[Hit] = []
    if plan.semantic and kind in SEMANTIC_KINDS:
        from apps.search.engines.vectors import VectorEngine

        try:
            semantic = VectorEngine().search(user=user, query=query, kind=kind, limit=limit)
        # The vector store is an addition to the text engines: when it is down the words still find records.
        except Exception:
            logger.exception("vector search failed for kind %s", kind)
    engine = PostgresEngine() if kind == ResultKind.ENTITY else text_engine()
    budget = TEXT_BUDGET_MS if semantic else None
    lists = [engine.search(user=user, query=query, kind=kind, limit=limit, any_term=not semantic, budget_ms=budget)]
    if semantic:
        lists.append(semantic)
    return fuse(lists, limit=limit)
