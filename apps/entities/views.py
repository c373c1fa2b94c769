"""The entity pages: the list with search, an entity's page (profile, identifiers, timeline, related entities,
anomalies, merge history with merge and split), the JSON its graph view draws from, and the review queue of
possible matches.

Every view reads through ``apps.entities.selectors``: another organisation's entity or candidate is a 404 on every
page, fragment and JSON answer. An entity absorbed by a merge leads to the entity it lives on in. Writes go through
``apps.entities.services``, which audit them. Personal values are shown as their masking tokens; nothing here reads
the privacy vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from apps.core.errors import DomainError
from apps.entities import selectors, services
from apps.entities.filtersets import (
    EntityFilterSet,
    GraphQueryError,
    MatchCandidateFilterSet,
    RelatedFilterSet,
    graph_query,
)
from apps.entities.forms import EntityMergeForm, EntitySplitForm, MatchDecisionForm, MergeSearchForm
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityMerge,
    MatchCandidate,
    MatchMethod,
    RelationshipKind,
)
from apps.entities.scoring import FEATURE_LABELS
from apps.privacy.masking import is_pii_token

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from apps.accounts.models import User

PAGE_SIZE = 25
REVIEW_PAGE_SIZE = 20
MERGE_PERMISSIONS = ("entities.view_entity", "entities.change_entity")
SPLIT_PERMISSIONS = ("entities.view_entity", "entities.change_entity", "entities.view_entitymerge")
DECIDE_PERMISSIONS = ("entities.view_matchcandidate", "entities.change_matchcandidate")
# The review queue's filters, kept when a decision sent without JavaScript returns to the queue.
REVIEW_QUERY_KEYS = ("kind", "status", "page")
GRAPH_PERMISSIONS = ("entities.view_entity", "entities.view_relationship")
TIMELINE_PERMISSIONS = ("entities.view_entity", "entities.view_entitymention")

# The labels of the profile's attributes (``selectors.PROFILE_ATTRIBUTES``). A person's are masking tokens (dates
# of birth, addresses) and company codes.
ATTRIBUTE_LABELS = {
    "short_name": gettext_lazy("Short name"),
    "legal_form": gettext_lazy("Legal form"),
    "status": gettext_lazy("Registration status"),
    "registration_date": gettext_lazy("Registration date"),
    "address": gettext_lazy("Address"),
    "activity_codes": gettext_lazy("Activity codes"),
    "authorized_capital_uah": gettext_lazy("Authorised capital, UAH"),
    "birth_dates": gettext_lazy("Dates of birth"),
    "addresses": gettext_lazy("Addresses"),
    "companies": gettext_lazy("Companies (ЄДРПОУ)"),
}


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.htmx)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> User:
    """The signed-in user of a view behind ``login_required``."""
    return cast("User", request.user)


def _entity_or_404(request: HttpRequest, pk: int) -> Entity:
    try:
        return selectors.entity_get(user=request.user, pk=pk)
    except Entity.DoesNotExist:
        raise Http404(_("No such entity.")) from None


def _to_survivor(request: HttpRequest, entity: Entity, url_name: str) -> HttpResponse | None:
    """A redirect to the same address of the entity an absorbed one was merged into, query string kept."""
    survivor = selectors.entity_survivor(user=request.user, entity=entity)
    if survivor.pk == entity.pk:
        return None
    url = reverse(url_name, args=[survivor.pk])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


@dataclass(frozen=True)
class ProfileAttribute:
    label: str
    values: list[str]
    # The values are masking tokens.
    masked: bool


@dataclass(frozen=True)
class IdentifierRow:
    scheme_label: str
    value: str
    # A personal identifier (РНОКПП, phone): the value is its masking token.
    masked: bool
    is_valid: bool


@dataclass(frozen=True)
class EntityRow:
    entity: Entity
    identifiers: list[IdentifierRow]


def identifier_row(identifier: EntityIdentifier) -> IdentifierRow:
    return IdentifierRow(
        scheme_label=identifier.get_scheme_display(),
        value=identifier.value,
        masked=is_pii_token(identifier.value),
        is_valid=identifier.is_valid,
    )


# --- list ------------------------------------------------------------------------------------------------------


@require_safe
@login_required
@permission_required("entities.view_entity", raise_exception=True)
def entity_list(request: HttpRequest) -> HttpResponse:
    filterset = EntityFilterSet(request.GET)
    entities: QuerySet[Entity]
    if filterset.is_valid():
        entities = selectors.entity_list(user=request.user, **filterset.cleaned_data)
    else:
        entities = Entity.objects.none()
    show_identifiers = request.user.has_perm("entities.view_entityidentifier")
    if show_identifiers:
        entities = entities.prefetch_related(
            Prefetch("identifiers", queryset=EntityIdentifier.objects.order_by("scheme", "value"))
        )
    page_obj = Paginator(entities, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        EntityRow(
            entity=entity,
            identifiers=[identifier_row(i) for i in entity.identifiers.all()] if show_identifiers else [],
        )
        for entity in page_obj.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page_obj": page_obj,
        "rows": rows,
        "query_without_page": f"{query.urlencode()}&" if query else "",
        "show_identifiers": show_identifiers,
    }
    template = "entities/partials/entity_table.html" if _is_htmx(request) else "entities/entity_list.html"
    return render(request, template, context)


# --- the entity page -------------------------------------------------------------------------------------------


def _attributes(entity: Entity) -> list[ProfileAttribute]:
    return [
        ProfileAttribute(label=str(ATTRIBUTE_LABELS[name]), values=values, masked=all(is_pii_token(v) for v in values))
        for name, values in selectors.entity_attributes(entity).items()
    ]


def _identifiers(request: HttpRequest, entity: Entity) -> list[IdentifierRow]:
    return [identifier_row(i) for i in selectors.entity_identifiers(user=request.user, entity=entity)]


def _graph_labels() -> dict[str, Any]:
    """What the graph script shows in the page's language: kinds of entities and relationships, its messages."""
    return {
        "entityKinds": {kind.value: str(kind.label) for kind in EntityKind},
        "relationshipKinds": {kind.value: str(kind.label) for kind in RelationshipKind},
        "messages": {
            "loading": _("Loading the graph…"),
            "truncated": _(
                "The neighbourhood is larger than the graph can show: the most important links are drawn. "
                "Narrow it with the filters, or click a node to expand it."
            ),
            "empty": _("No relationships match these filters."),
            "failed": _("The graph could not be loaded."),
            # Counts stand after a colon, so that no language needs a plural form the script cannot choose.
            "expanded": _("Expanded %(name)s; new entities: %(count)s."),
            "records": _("Records: %(count)s"),
            "amount": _("%(amount)s UAH"),
        },
    }


def _related_context(request: HttpRequest, entity: Entity) -> dict[str, Any]:
    # An unknown kind filters on itself and finds nothing, like the list's filters; the form shows the error.
    kind = request.GET.get("related_kind", "")
    related = selectors.entity_related(
        user=request.user, entity=entity, kind=kind, page=request.GET.get("related_page")
    )
    query = request.GET.copy()
    query.pop("related_page", None)
    return {
        "related_filterset": RelatedFilterSet(request.GET),
        "related_kind": kind,
        "related": related,
        "related_query": f"{query.urlencode()}&" if query else "",
    }


def _timeline_context(request: HttpRequest, entity: Entity) -> dict[str, Any]:
    timeline = selectors.entity_timeline(user=request.user, entity=entity, page=request.GET.get("timeline_page"))
    query = request.GET.copy()
    query.pop("timeline_page", None)
    return {"timeline": timeline, "timeline_query": f"{query.urlencode()}&" if query else ""}


@dataclass(frozen=True)
class MergeRow:
    merge: EntityMerge
    # The form that splits the merge, when it can be split and the user may do it.
    split_form: EntitySplitForm | None


def _merge_rows(request: HttpRequest, entity: Entity) -> list[MergeRow]:
    may_split = request.user.has_perm("entities.change_entity")
    return [
        MergeRow(
            merge=merge,
            split_form=EntitySplitForm(auto_id=f"id_split_{merge.pk}_%s")
            if may_split and merge.split_at is None and merge.absorbed.merged_into_id == merge.survivor_id
            else None,
        )
        for merge in selectors.entity_merges(user=request.user, entity=entity)
    ]


def _merge_choice_label(entity: Entity) -> str:
    return f"{entity.name} · {entity.get_kind_display()} · {entity.country or '—'} · №{entity.pk}"


@dataclass(frozen=True)
class MergeSearch:
    form: MergeSearchForm
    query: str
    choices: list[tuple[int, str]]


def _merge_search(request: HttpRequest, entity: Entity, data: QueryDict) -> MergeSearch:
    """What ``merge_q`` (in the page's query, or sent again with the merge form) finds to merge in."""
    form = MergeSearchForm(data, auto_id="id_%s")
    query = form.cleaned_data["merge_q"] if form.is_valid() else ""
    found = selectors.entity_merge_choices(user=request.user, entity=entity, q=query)
    return MergeSearch(form=form, query=query, choices=[(other.pk, _merge_choice_label(other)) for other in found])


def _merge_form(data: QueryDict | None, search: MergeSearch) -> EntityMergeForm:
    return EntityMergeForm(data, choices=search.choices, auto_id="id_merge_%s")


def _merge_context(
    request: HttpRequest, entity: Entity, submitted: tuple[MergeSearch, EntityMergeForm] | None
) -> dict[str, Any]:
    """The "merge another entity into this one" form: a search offers what it found in a select, else the entity
    is given by its number. ``submitted`` is a merge form sent and refused, shown again with its errors."""
    if not request.user.has_perm("entities.change_entity"):
        return {}
    if submitted is None:
        search = _merge_search(request, entity, request.GET)
        form = _merge_form(None, search)
    else:
        search, form = submitted
    return {
        "merge_search": search.form,
        "merge_query": search.query,
        "merge_found": len(search.choices),
        "merge_form": form,
    }


def _render_detail(
    request: HttpRequest,
    entity: Entity,
    *,
    submitted_merge: tuple[MergeSearch, EntityMergeForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    context = {
        "entity": entity,
        "attributes": _attributes(entity),
        "names": list(selectors.entity_names(user=user, entity=entity)),
        "identifiers": _identifiers(request, entity),
        "anomalies": selectors.entity_anomalies(user=user, entity=entity),
        "merge_rows": _merge_rows(request, entity),
        "show_timeline": user.has_perms(TIMELINE_PERMISSIONS),
        "show_graph": user.has_perms(GRAPH_PERMISSIONS),
        "graph_labels": _graph_labels(),
        "relationship_kinds": RelationshipKind.choices,
        **_related_context(request, entity),
        **_timeline_context(request, entity),
        **_merge_context(request, entity, submitted_merge),
    }
    return render(request, "entities/entity_detail.html", context, status=status)


@require_safe
@login_required
@permission_required("entities.view_entity", raise_exception=True)
def entity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entity = _entity_or_404(request, pk)
    if (moved := _to_survivor(request, entity, "entities:detail")) is not None:
        return moved
    return _render_detail(request, entity)


@require_safe
@login_required
@permission_required(TIMELINE_PERMISSIONS, raise_exception=True)
def entity_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """A page of the timeline for htmx; opened as a page, the entity's page at that point of the timeline."""
    entity = _entity_or_404(request, pk)
    if (moved := _to_survivor(request, entity, "entities:timeline")) is not None:
        return moved
    if not _is_htmx(request):
        return _detail_with_query(request, entity, "timeline")
    context = {"entity": entity, **_timeline_context(request, entity)}
    return render(request, "entities/partials/timeline.html", context)


@require_safe
@login_required
@permission_required(GRAPH_PERMISSIONS, raise_exception=True)
def entity_related(request: HttpRequest, pk: int) -> HttpResponse:
    """The related entities table for htmx, filtered by relationship kind and paginated."""
    entity = _entity_or_404(request, pk)
    if (moved := _to_survivor(request, entity, "entities:related")) is not None:
        return moved
    if not _is_htmx(request):
        return _detail_with_query(request, entity, "related")
    context = {"entity": entity, **_related_context(request, entity)}
    return render(request, "entities/partials/related.html", context)


def _detail_with_query(request: HttpRequest, entity: Entity, section: str) -> HttpResponse:
    url = reverse("entities:detail", args=[entity.pk])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}#{section}" if query else f"{url}#{section}")


# --- the graph -------------------------------------------------------------------------------------------------


@require_safe
@login_required
@permission_required(GRAPH_PERMISSIONS, raise_exception=True)
def entity_graph(request: HttpRequest, pk: int) -> HttpResponse:
    """The entity's neighbourhood as nodes and edges for the graph view.

    ``?hops=1|2&kinds=a,b&from=YYYY-MM-DD&to=YYYY-MM-DD``; a parameter that is not valid is a 400 with a message.
    Nodes carry the addresses of their page and of their own neighbourhood, for the script to open and expand them.
    """
    entity = _entity_or_404(request, pk)
    if (moved := _to_survivor(request, entity, "entities:graph")) is not None:
        return moved
    try:
        query = graph_query(request.GET)
    except GraphQueryError as error:
        return JsonResponse({"detail": str(error), "parameter": error.parameter}, status=400)
    neighbourhood = selectors.entity_graph(
        entity=entity, hops=query.hops, kinds=query.kinds, date_from=query.date_from, date_to=query.date_to
    )
    nodes = [
        {
            **node,
            "url": reverse("entities:detail", args=[node["id"]]),
            "graph_url": reverse("entities:graph", args=[node["id"]]),
        }
        for node in neighbourhood.nodes
    ]
    return JsonResponse(
        {"center": entity.pk, "nodes": nodes, "edges": neighbourhood.edges, "truncated": neighbourhood.truncated}
    )


# --- merge and split -------------------------------------------------------------------------------------------


def _entity_to_change_or_404(request: HttpRequest, pk: int) -> Entity:
    return get_object_or_404(Entity.objects.restrict(request.user, "change"), pk=pk)


def _merges_url(entity: Entity) -> str:
    return reverse("entities:detail", args=[entity.pk]) + "#merges"


@require_POST
@login_required
@permission_required(MERGE_PERMISSIONS, raise_exception=True)
def entity_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Fold another entity into this one by hand; a refused merge shows the page again with the form and why."""
    entity = _entity_to_change_or_404(request, pk)
    if (moved := _to_survivor(request, entity, "entities:detail")) is not None:
        messages.error(request, _("This entity has been merged into another; merge into that one."))
        return moved
    search = _merge_search(request, entity, request.POST)
    form = _merge_form(request.POST, search)
    if form.is_valid():
        absorbed = Entity.objects.restrict(request.user, "change").filter(pk=form.cleaned_data["absorbed"]).first()
        if absorbed is None:
            form.add_error("absorbed", _("Your organisation has no entity with this number."))
        else:
            try:
                services.entity_merge(
                    survivor=entity,
                    absorbed=absorbed,
                    actor=_user(request),
                    method=MatchMethod.MANUAL,
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    _("“%(absorbed)s” is merged into this entity: its records count here now.")
                    % {"absorbed": absorbed.name},
                )
                return redirect(_merges_url(entity))
    messages.error(request, _("The entities were not merged; see the merge form below."))
    return _render_detail(request, entity, submitted_merge=(search, form), status=400)


@require_POST
@login_required
@permission_required(SPLIT_PERMISSIONS, raise_exception=True)
def entity_split(request: HttpRequest, pk: int, merge_pk: int) -> HttpResponse:
    """Undo one merge of the entity's history: the entity folded in stands alone again."""
    entity = _entity_to_change_or_404(request, pk)
    merge = get_object_or_404(selectors.entity_merges(user=request.user, entity=entity), pk=merge_pk)
    form = EntitySplitForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect(_merges_url(entity))
    try:
        absorbed = services.entity_split(merge=merge, actor=_user(request), reason=form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("The merge is split: “%(absorbed)s” stands alone again with its own records.")
            % {"absorbed": absorbed.name},
        )
    return redirect(_merges_url(entity))


# --- the review queue ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplanationLine:
    label: str
    left: str
    right: str
    left_masked: bool
    right_masked: bool
    similarity: float
    weight: float
    contribution: float

    @property
    def magnitude(self) -> float:
        """The contribution without its sign, which the page writes as + or − beside it."""
        return abs(self.contribution)


@dataclass(frozen=True)
class CandidateRow:
    candidate: MatchCandidate
    lines: list[ExplanationLine]
    # The Confirm / Reject form, while the candidate is pending and the user may decide it.
    form: MatchDecisionForm | None
    error: str = ""


def explanation_lines(candidate: MatchCandidate) -> list[ExplanationLine]:
    """The scorer's explanation as stored (``apps.entities.scoring.score``), with each feature's label."""
    explanation = candidate.explanation if isinstance(candidate.explanation, list) else []
    lines = []
    for line in explanation:
        if not isinstance(line, dict):
            continue
        field = str(line.get("field", ""))
        left, right = str(line.get("left") or ""), str(line.get("right") or "")
        lines.append(
            ExplanationLine(
                label=capfirst(str(FEATURE_LABELS.get(field, field))),
                left=left,
                right=right,
                left_masked=is_pii_token(left),
                right_masked=is_pii_token(right),
                similarity=float(line.get("similarity") or 0.0),
                weight=float(line.get("weight") or 0.0),
                contribution=float(line.get("contribution") or 0.0),
            )
        )
    return lines


def _candidate_row(request: HttpRequest, candidate: MatchCandidate, error: str = "") -> CandidateRow:
    may_decide = candidate.status == MatchCandidate.Status.PENDING and request.user.has_perms(DECIDE_PERMISSIONS)
    return CandidateRow(
        candidate=candidate,
        lines=explanation_lines(candidate),
        form=MatchDecisionForm(auto_id=f"id_candidate_{candidate.pk}_%s") if may_decide else None,
        error=error,
    )


def _review_query(params: QueryDict) -> str:
    """The queue's own filters out of ``params``, as a query string; anything else is dropped."""
    query = QueryDict(mutable=True)
    for key in REVIEW_QUERY_KEYS:
        if value := params.get(key):
            query[key] = value
    return query.urlencode()


@require_safe
@login_required
@permission_required("entities.view_matchcandidate", raise_exception=True)
def review_queue(request: HttpRequest) -> HttpResponse:
    """Possible matches waiting for an investigator, the most likely first, each with why the scorer matched them."""
    filterset = MatchCandidateFilterSet(request.GET)
    candidates = filterset.filter(selectors.match_candidate_list(user=request.user))
    page_obj = Paginator(candidates, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page_obj": page_obj,
        "rows": [_candidate_row(request, candidate) for candidate in page_obj.object_list],
        "query_without_page": f"{query.urlencode()}&" if query else "",
        "return_query": _review_query(request.GET),
    }
    template = "entities/partials/review_list.html" if _is_htmx(request) else "entities/review_queue.html"
    return render(request, template, context)


@require_POST
@login_required
@permission_required(DECIDE_PERMISSIONS, raise_exception=True)
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm or reject a candidate. With htmx the answer is the candidate in its new state (400 with the reason
    when the decision was refused); without, a redirect to the queue with a message."""
    candidate = get_object_or_404(selectors.match_candidate_list(user=request.user, action="change"), pk=pk)
    form = MatchDecisionForm(request.POST)
    return_query = _review_query(QueryDict(request.POST.get("return_query", "")))
    error = ""
    confirmed = False
    if not form.is_valid():
        error = _("Choose Confirm or Reject.")
    else:
        confirmed = form.cleaned_data["decision"] == MatchDecisionForm.CONFIRM
        try:
            services.match_decide(
                candidate=candidate, actor=_user(request), confirmed=confirmed, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            error = str(exc)
    if _is_htmx(request):
        candidate = selectors.match_candidate_list(user=request.user).get(pk=candidate.pk)
        context = {"row": _candidate_row(request, candidate, error), "return_query": return_query}
        return render(request, "entities/partials/candidate.html", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    elif confirmed:
        messages.success(
            request,
            _("Confirmed: “%(left)s” and “%(right)s” are one entity now.")
            % {"left": candidate.left.name, "right": candidate.right.name},
        )
    else:
        messages.success(
            request,
            _("Rejected: “%(left)s” and “%(right)s” stay apart and will not be matched again.")
            % {"left": candidate.left.name, "right": candidate.right.name},
        )
    url = reverse("entities:review")
    return redirect(f"{url}?{return_query}" if return_query else url)
