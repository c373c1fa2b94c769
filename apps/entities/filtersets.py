"""The filters of the entity pages, the review queue and the graph view's query, shared by the pages and the API
(NetBox's ``filtersets.py``, without django-filter)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.entities.models import EntityKind, MatchCandidate, RelationshipKind, ScorerKind
from apps.entities.selectors import ENTITY_ORDERINGS

ORDERING_LABELS = {
    "records": gettext_lazy("Most records first"),
    "degree": gettext_lazy("Most links first"),
    "pagerank": gettext_lazy("Most central first (PageRank)"),
    "last_seen": gettext_lazy("Latest seen first"),
    "name": gettext_lazy("By name"),
}
GRAPH_HOPS = (1, 2)
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# The review queue's status filter: one status, or this for all of them.
ANY_STATUS = "all"


class EntityFilterSet(forms.Form):
    """``?q=…&kind=…&country=…&ordering=…``; an unknown kind or ordering is a form error and lists nothing."""

    q = forms.CharField(
        label=gettext_lazy("Name, token or identifier"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), required=False, choices=[("", gettext_lazy("All kinds")), *EntityKind.choices]
    )
    country = forms.CharField(
        label=gettext_lazy("Country"),
        required=False,
        max_length=2,
        help_text=gettext_lazy("Two letters, as UA or CN."),
    )
    ordering = forms.ChoiceField(
        label=gettext_lazy("Order"),
        required=False,
        choices=[(name, ORDERING_LABELS[name]) for name in ENTITY_ORDERINGS],
    )

    def clean_country(self) -> str:
        country = str(self.cleaned_data.get("country") or "").strip().upper()
        if country and not COUNTRY_CODE.fullmatch(country):
            raise forms.ValidationError(_("A country is two Latin letters (ISO 3166), as UA."))
        return country

    @property
    def is_filtering(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in ("q", "kind", "country"))


class RelatedFilterSet(forms.Form):
    """The relationship-kind filter of an entity's related entities (``?related_kind=…``)."""

    related_kind = forms.ChoiceField(
        label=gettext_lazy("Relationship"),
        required=False,
        choices=[("", gettext_lazy("All relationships")), *RelationshipKind.choices],
    )


class RelationshipFilterSet(forms.Form):
    """The API's filter of an entity's relationships (``?kind=…``); the page's is ``RelatedFilterSet``."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Relationship"),
        required=False,
        choices=[("", gettext_lazy("All relationships")), *RelationshipKind.choices],
    )


class MatchCandidateFilterSet(forms.Form):
    """``?kind=company|person&status=pending|confirmed|rejected|all``: the queue shows pending matches unless asked."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), required=False, choices=[("", gettext_lazy("All kinds")), *ScorerKind.choices]
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[*MatchCandidate.Status.choices, (ANY_STATUS, gettext_lazy("Any status"))],
    )

    def __init__(self, data: QueryDict, **kwargs: Any) -> None:
        data = data.copy()
        if not data.get("status"):
            data["status"] = MatchCandidate.Status.PENDING
        super().__init__(data, **kwargs)

    def filter(self, queryset: QuerySet[MatchCandidate]) -> QuerySet[MatchCandidate]:
        if not self.is_valid():
            return queryset.none()
        if kind := self.cleaned_data["kind"]:
            queryset = queryset.filter(kind=kind)
        if (status := self.cleaned_data["status"]) != ANY_STATUS:
            queryset = queryset.filter(status=status)
        return queryset

    @property
    def is_filtering(self) -> bool:
        return bool(self.data.get("kind")) or self.data.get("status") != MatchCandidate.Status.PENDING


@dataclass(frozen=True)
class GraphQuery:
    hops: int
    kinds: list[str]
    date_from: datetime.date | None
    date_to: datetime.date | None


class GraphQueryError(ValueError):
    """A parameter of the graph query is not valid; the message says which and why, for the reader."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def graph_query(params: QueryDict) -> GraphQuery:
    """``?hops=1|2&kinds=a,b&from=YYYY-MM-DD&to=YYYY-MM-DD``; every parameter is optional (1 hop, every kind)."""
    hops_text = params.get("hops") or "1"
    if hops_text not in {str(hops) for hops in GRAPH_HOPS}:
        raise GraphQueryError("hops", _("The number of hops must be 1 or 2."))
    kinds = [kind.strip() for kind in (params.get("kinds") or "").split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in RelationshipKind.values]
    if unknown:
        raise GraphQueryError(
            "kinds", _("Unknown relationship kind: %(kinds)s.") % {"kinds": ", ".join(sorted(set(unknown)))}
        )
    date_from = _date(params, "from")
    date_to = _date(params, "to")
    if date_from and date_to and date_from > date_to:
        raise GraphQueryError("to", _("The end date is before the start date."))
    return GraphQuery(hops=int(hops_text), kinds=list(dict.fromkeys(kinds)), date_from=date_from, date_to=date_to)


def _date(params: QueryDict, name: str) -> datetime.date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise GraphQueryError(
            name, _("“%(value)s” is not a date; write it as YYYY-MM-DD.") % {"value": text[:40]}
        ) from None
