"""Reads of the search: results grouped by kind with what each shows, facets, autocomplete, saved searches.

Every result is read back through ``restrict()`` after the engines found it, so an engine that returned a row the
user may not see (a stale index, another organisation's vector) cannot leak it. Personal values are masking tokens
in the records and are shown as such, flagged ``masked``; highlights come from the clear columns only.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from django.apps import apps as django_apps
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from apps.datasets.models import CustomsDeclaration, RegistryCompany, TaxInvoice, TelegramMessage
from apps.entities.models import Entity
from apps.privacy.masking import is_pii_token
from apps.search import planner
from apps.search.engines.base import Engine, Hit, ResultKind, SearchQuery
from apps.search.engines.postgres import CONFIG, RECORD_SPECS, Suggestion, autocomplete, fold_sql, record_facets
from apps.search.highlight import highlight
from apps.search.models import SavedSearch
from apps.search.text import tsquery

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User

PER_KIND = 10
# How deep each kind is ranked for the one-list answer (the API, saved searches).
PER_KIND_RANKED = 100
MAX_HIGHLIGHTS = 2


@dataclass(frozen=True)
class ResultField:
    label: str
    value: str
    masked: bool


@dataclass
class Result:
    kind: str
    pk: int
    title: str
    title_masked: bool
    url: str
    score: float
    engines: list[str]
    highlights: list[str]
    date: datetime.date | None = None
    fields: list[ResultField] = field(default_factory=list)
    # The case form prefilled with this result (set by the page; "" when there is none).
    add_to_case_url: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.pk}"

    @property
    def engine_labels(self) -> list[str]:
        return [str(Engine(engine).label) for engine in self.engines]


@dataclass
class ResultGroup:
    kind: str
    label: str
    results: list[Result]
    total: int


@dataclass
class SearchResults:
    query: SearchQuery
    mode: str
    groups: list[ResultGroup]
    facets: dict[str, dict[str, int]]

    @property
    def count(self) -> int:
        return sum(len(group.results) for group in self.groups)


def cases_installed() -> bool:
    return django_apps.is_installed("apps.cases")


def result_kinds(user: User | AnonymousUser) -> list[str]:
    """The kinds this user may search: those whose model they may view."""
    kinds = []
    for kind in ResultKind:
        if kind == ResultKind.CASE:
            if cases_installed() and user.has_perm("cases.view_case"):
                kinds.append(kind.value)
            continue
        model = Entity if kind == ResultKind.ENTITY else RECORD_SPECS[kind].model
        if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            kinds.append(kind.value)
    return kinds


def _field(label: str, value: Any) -> ResultField | None:
    if value in (None, ""):
        return None
    text = str(value)
    return ResultField(label=label, value=text, masked=is_pii_token(text))


def _fields(*pairs: tuple[str, Any]) -> list[ResultField]:
    return [item for item in (_field(label, value) for label, value in pairs) if item is not None]


def _record_url(dataset_id: int) -> str:
    return reverse("datasets:detail", args=[dataset_id])


def _describe_records(kind: str, pks: list[int], user: User) -> dict[int, dict[str, Any]]:
    spec = RECORD_SPECS[kind]
    rows = spec.model.objects.restrict(user, "view").filter(pk__in=pks)
    described: dict[int, dict[str, Any]] = {}
    date: datetime.date | None
    for row in rows:
        url = _record_url(row.dataset_id)
        if isinstance(row, CustomsDeclaration):
            title, date = row.declaration_number, row.declaration_date
            fields = _fields(
                (_("Trader"), row.trader_name or row.trader_code),
                (_("Trader code"), row.trader_code),
                (_("Goods code"), row.goods_code),
                (_("Counterparty"), row.counterparty_name),
                (_("Country"), row.counterparty_country),
                (_("Customs office"), row.customs_office or row.customs_office_code),
            )
        elif isinstance(row, TaxInvoice):
            title, date = row.invoice_number, row.invoice_date
            fields = _fields(
                (_("Seller"), row.seller_name or row.seller_code),
                (_("Buyer"), row.buyer_name or row.buyer_code),
                (_("Goods code"), row.goods_code),
                (_("Amount, UAH"), row.amount_uah),
            )
        elif isinstance(row, RegistryCompany):
            title, date = row.name, row.registration_date
            fields = _fields((_("Code"), row.code), (_("Legal form"), row.legal_form), (_("Status"), row.status))
        elif isinstance(row, TelegramMessage):
            title, date = f"{row.channel} #{row.message_id}", row.sent_at.date()
            fields = _fields((_("Author"), row.author), (_("Forwarded from"), row.forwarded_from))
        else:
            title, date = row.filename, None
            fields = _fields((_("Pages"), row.page_count))
        texts = [str(getattr(row, name) or "") for name in RECORD_SPECS[kind].highlight_fields]
        described[row.pk] = {"title": str(title), "date": date, "url": url, "fields": fields, "texts": texts}
    return described


def _describe_entities(pks: list[int], user: User) -> dict[int, dict[str, Any]]:
    entities = Entity.objects.restrict(user, "view").filter(pk__in=pks).prefetch_related("identifiers")
    described = {}
    for entity in entities:
        identifiers = ", ".join(
            identifier.value for identifier in entity.identifiers.all() if not is_pii_token(identifier.value)
        )
        described[entity.pk] = {
            "texts": [entity.name],
            "title": entity.name,
            "date": entity.last_seen,
            "url": reverse("entities:detail", args=[entity.pk]),
            "fields": _fields(
                (_("Kind"), entity.get_kind_display()),
                (_("Identifiers"), identifiers),
                (_("Country"), entity.country),
                (_("Records"), entity.mention_count),
            ),
        }
    return described


def _case_hits(*, user: User, query: SearchQuery, limit: int) -> list[Hit]:
    from apps.cases.models import Case

    text = tsquery(query.parsed)
    if not text:
        return []
    folded = fold_sql("coalesce(title, '') || ' ' || coalesce(description, '')")
    match = RawSQL(  # noqa: S611 - fixed SQL, the query text a parameter
        f"to_tsvector(%s::regconfig, {folded}) @@ to_tsquery(%s::regconfig, %s)", (CONFIG, CONFIG, text), BooleanField()
    )
    cases: QuerySet[Any] = Case.objects.restrict(user, "view").filter(match).order_by("-updated_at")
    return [
        Hit(kind=ResultKind.CASE, pk=pk, engine=Engine.POSTGRES, rank=rank)
        for rank, pk in enumerate(cases.values_list("pk", flat=True)[:limit])
    ]


def _describe_cases(pks: list[int], user: User) -> dict[int, dict[str, Any]]:
    from apps.cases.models import Case

    described = {}
    for case in Case.objects.restrict(user, "view").filter(pk__in=pks):
        try:
            url = reverse("cases:detail", args=[case.pk])
        except NoReverseMatch:
            url = ""
        described[case.pk] = {
            "texts": [case.title, case.description],
            "title": case.title,
            "date": case.due_date,
            "url": url,
            "fields": _fields((_("Status"), case.get_status_display()), (_("Priority"), case.get_priority_display())),
        }
    return described


def _kind_hits(*, user: User, query: SearchQuery, kind: str, limit: int) -> list[planner.FusedHit]:
    if kind == ResultKind.CASE:
        return planner.fuse([_case_hits(user=user, query=query, limit=limit)], limit=limit)
    return planner.search_kind(user=user, query=query, kind=kind, limit=limit)


def results_describe(*, user: User, query: SearchQuery, hits: list[planner.FusedHit]) -> list[Result]:
    """What each hit shows, read through ``restrict()``; a hit the user may not see is dropped."""
    described: dict[tuple[str, int], dict[str, Any]] = {}
    for kind in dict.fromkeys(hit.kind for hit in hits):
        pks = [hit.pk for hit in hits if hit.kind == kind]
        if kind == ResultKind.ENTITY:
            rows = _describe_entities(pks, user)
        elif kind == ResultKind.CASE:
            rows = _describe_cases(pks, user)
        else:
            rows = _describe_records(kind, pks, user)
        described.update({(kind, pk): info for pk, info in rows.items()})
    parsed = query.parsed
    results = []
    for hit in hits:
        info = described.get((hit.kind, hit.pk))
        if info is None:
            continue
        highlights = [fragment for text in info["texts"] for fragment in highlight(text, parsed)]
        results.append(
            Result(
                kind=hit.kind,
                pk=hit.pk,
                title=info["title"],
                title_masked=is_pii_token(info["title"]),
                url=info["url"],
                score=hit.score,
                engines=hit.engines,
                highlights=highlights[:MAX_HIGHLIGHTS],
                date=info["date"],
                fields=info["fields"],
            )
        )
    return results


def search_kind_results(*, user: User, query: SearchQuery, kind: str, limit: int) -> list[Result]:
    """The ranked results of one kind, as the page shows them."""
    return results_describe(user=user, query=query, hits=_kind_hits(user=user, query=query, kind=kind, limit=limit))


def search_run(*, user: User, query: SearchQuery, per_kind: int = PER_KIND, facets: bool = True) -> SearchResults:
    """Every kind the user may search and the query's filters allow, ``per_kind`` best results each."""
    groups = []
    for kind in result_kinds(user):
        if not query.filters.allows(kind):
            continue
        results = search_kind_results(user=user, query=query, kind=kind, limit=per_kind)
        if results:
            label = str(ResultKind(kind).label)
            groups.append(ResultGroup(kind=kind, label=label, results=results, total=len(results)))
    return SearchResults(
        query=query,
        mode=planner.query_mode(query),
        groups=groups,
        facets=record_facets(user=user, query=query) if facets else {},
    )


def search_ranked(*, user: User, query: SearchQuery, per_kind: int = PER_KIND_RANKED) -> list[planner.FusedHit]:
    """All kinds in one ranking: each kind's list fused again by reciprocal rank fusion, so the first of every
    kind come before the seconds. At most ``per_kind`` of each kind."""
    merged = []
    for kind in result_kinds(user):
        if not query.filters.allows(kind):
            continue
        for rank, hit in enumerate(_kind_hits(user=user, query=query, kind=kind, limit=per_kind)):
            merged.append((1.0 / (planner.RRF_K + rank + 1), hit))
    merged.sort(key=lambda item: (-item[0], item[1].kind, -item[1].pk))
    return [hit for _score, hit in merged]


class RankedResults(Sequence[Result]):
    """The ranking, described only where it is sliced: a page of the API reads its own rows and no others."""

    def __init__(self, *, user: User, query: SearchQuery, hits: list[planner.FusedHit]) -> None:
        self.user, self.query, self.hits = user, query, hits

    def __len__(self) -> int:
        return len(self.hits)

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> list[Result]: ...

    def __getitem__(self, index: int | slice) -> Result | list[Result]:
        if isinstance(index, slice):
            return results_describe(user=self.user, query=self.query, hits=self.hits[index])
        return results_describe(user=self.user, query=self.query, hits=[self.hits[index]])[0]


def search_list(*, user: User, query: SearchQuery) -> RankedResults:
    """Every kind in one ranked list (for the API's pages and saved searches)."""
    return RankedResults(user=user, query=query, hits=search_ranked(user=user, query=query))


def suggestions_list(*, user: User, text: str, limit: int = 8) -> list[Suggestion]:
    if not user.has_perm("entities.view_entity"):
        return []
    return autocomplete(user=user, text=text, limit=limit)


def saved_search_list(*, user: User) -> QuerySet[SavedSearch]:
    return SavedSearch.objects.restrict(user, "view").filter(owner_id=user.pk)


def saved_search_get(*, user: User, pk: int) -> SavedSearch:
    return saved_search_list(user=user).get(pk=pk)
