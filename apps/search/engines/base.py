"""What every engine takes and gives: the query with its filters, and ranked hits that name the engine."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.search.text import ParsedQuery, parse_query

if TYPE_CHECKING:
    from apps.accounts.models import User


class ResultKind(models.TextChoices):
    """The groups of the search page, in the order it shows them."""

    ENTITY = "entity", _("Entities")
    CUSTOMS_DECLARATION = "customs_declaration", _("Customs declarations")
    TAX_INVOICE = "tax_invoice", _("Tax invoices")
    REGISTRY_COMPANY = "registry_company", _("Registry companies")
    TELEGRAM_MESSAGE = "telegram_message", _("Telegram messages")
    DOCUMENT = "document", _("Documents")
    CASE = "case", _("Cases")


class Engine(models.TextChoices):
    POSTGRES = "postgres", _("PostgreSQL full-text")
    TRIGRAM = "trigram", _("PostgreSQL fuzzy names")
    OPENSEARCH = "opensearch", _("OpenSearch")
    QDRANT = "qdrant", _("Qdrant semantic")


class SearchMode(models.TextChoices):
    AUTO = "auto", _("Automatic")
    EXACT = "exact", _("Exact: names and codes")
    HYBRID = "hybrid", _("Descriptive: words and meaning")


RECORD_KINDS = (
    ResultKind.CUSTOMS_DECLARATION,
    ResultKind.TAX_INVOICE,
    ResultKind.REGISTRY_COMPANY,
    ResultKind.TELEGRAM_MESSAGE,
    ResultKind.DOCUMENT,
)
# The record kinds the vector store holds text of.
SEMANTIC_KINDS = (
    ResultKind.CUSTOMS_DECLARATION,
    ResultKind.TAX_INVOICE,
    ResultKind.TELEGRAM_MESSAGE,
    ResultKind.DOCUMENT,
)


@dataclass(frozen=True)
class SearchFilters:
    kinds: tuple[str, ...] = ()
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    country: str = ""
    chapter: str = ""
    office: str = ""
    dataset_id: int | None = None

    def allows(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class SearchQuery:
    text: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    mode: str = SearchMode.AUTO

    @property
    def parsed(self) -> ParsedQuery:
        return parse_query(self.text)


@dataclass
class Hit:
    """One record or entity found by one engine, at ``rank`` (0 first) in that engine's list for its kind."""

    kind: str
    pk: int
    engine: str
    rank: int
    score: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.pk}"


class SearchEngine(Protocol):
    """``any_term``: when no record has every word, rank those that have some. ``budget_ms``: what the engine
    finds within that time (nothing, if it finds nothing in time), for a query other engines answer too."""

    name: str

    def search(
        self,
        *,
        user: User,
        query: SearchQuery,
        kind: str,
        limit: int,
        any_term: bool = True,
        budget_ms: int | None = None,
    ) -> list[Hit]: ...
