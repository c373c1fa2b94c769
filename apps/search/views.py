"""The search page (one box over everything, results grouped by kind, facets), its autocomplete fragment and the
saved searches.

One view serves the page and, for HTMX, the results fragment. Every result is read through ``restrict()`` by the
selectors; a user sees only the kinds whose records they may view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from apps.core.errors import DomainError
from apps.search import selectors, services
from apps.search.engines.base import Engine, ResultKind
from apps.search.filtersets import SearchFilterSet
from apps.search.forms import SavedSearchForm
from apps.search.models import SavedSearch

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.search.selectors import Result

FACET_LABELS = {
    "kind": gettext_lazy("Kind"),
    "country": gettext_lazy("Country"),
    "chapter": gettext_lazy("Goods chapter"),
    "office": gettext_lazy("Customs office"),
    "dataset": gettext_lazy("Dataset"),
}
# The facet a value of each group filters on (``?kind=…``, ``?country=…``).
FACET_PARAMS = ("kind", "country", "chapter", "office", "dataset")


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def add_to_case_url(result: Result) -> str:
    """The case form prefilled with this result, or "" while the cases app has no such page."""
    try:
        url = reverse("cases:case-create")
    except NoReverseMatch:
        return ""
    if result.kind == ResultKind.CASE:
        return ""
    if result.kind == ResultKind.ENTITY:
        return f"{url}?{urlencode({'entity': result.pk})}"
    return f"{url}?{urlencode({'record': f'{result.kind}:{result.pk}'})}"


def _facet_links(request: HttpRequest, facets: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Each facet's values with the address that filters on it (or drops the filter when it is on)."""
    groups = []
    for name in FACET_PARAMS:
        values = facets.get(name) or {}
        if not values:
            continue
        items = []
        for value, count in list(values.items())[:12]:
            query = request.GET.copy()
            active = value in query.getlist(name)
            if active:
                query.setlist(name, [item for item in query.getlist(name) if item != value])
            else:
                query.setlist(name, [value])
            label = str(ResultKind(value).label) if name == "kind" and value in ResultKind.values else value
            items.append({"label": label, "count": count, "url": f"?{query.urlencode()}", "active": active})
        groups.append({"name": name, "label": FACET_LABELS[name], "items": items})
    return groups


@login_required
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    kinds = selectors.result_kinds(user)
    if not kinds:
        raise PermissionDenied(_("You may not search any records."))
    form = SearchFilterSet(request.GET or None)
    cast(forms.MultipleChoiceField, form.fields["kind"]).choices = [(kind, ResultKind(kind).label) for kind in kinds]
    results = None
    if form.is_bound and form.is_valid() and form.cleaned_data.get("q"):
        results = selectors.search_run(user=user, query=form.to_query())
        for group in results.groups:
            for result in group.results:
                result.add_to_case_url = add_to_case_url(result)
    context = {
        "form": form,
        "results": results,
        "facets": _facet_links(request, results.facets) if results else [],
        "engines": {engine.value: engine.label for engine in Engine},
        "save_form": SavedSearchForm(),
        "can_save": user.has_perm("search.add_savedsearch"),
        "query_string": request.GET.urlencode(),
    }
    template = "search/partials/results.html" if request.htmx else "search/search.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_safe
def autocomplete(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:100]
    suggestions = selectors.suggestions_list(user=_user(request), text=text)
    return render(request, "search/partials/autocomplete.html", {"suggestions": suggestions, "text": text})


@login_required
@permission_required("search.view_savedsearch", raise_exception=True)
@require_safe
def saved_search_list(request: HttpRequest) -> HttpResponse:
    saved = selectors.saved_search_list(user=_user(request))
    search_url = reverse("search:search")
    rows = [{"saved": item, "url": f"{search_url}?{urlencode(item.params, doseq=True)}"} for item in saved]
    return render(request, "search/saved_search_list.html", {"rows": rows})


@login_required
@permission_required("search.add_savedsearch", raise_exception=True)
@require_POST
def saved_search_create(request: HttpRequest) -> HttpResponse:
    form = SavedSearchForm(request.POST)
    filters = SearchFilterSet(request.GET)
    if not form.is_valid() or not filters.is_valid():
        messages.error(request, _("The search could not be saved: give it a name and some words to look for."))
        return redirect(f"{reverse('search:search')}?{request.GET.urlencode()}")
    try:
        services.saved_search_create(
            actor=_user(request),
            name=form.cleaned_data["name"],
            params=filters.params(),
            notify=form.cleaned_data["notify"],
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('search:search')}?{request.GET.urlencode()}")
    messages.success(request, _("Search saved. You will be notified when new data matches it."))
    return redirect("search:saved")


@login_required
@permission_required("search.delete_savedsearch", raise_exception=True)
@require_POST
def saved_search_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        saved = selectors.saved_search_get(user=_user(request), pk=pk)
    except SavedSearch.DoesNotExist:
        raise Http404(_("No such saved search.")) from None
    services.saved_search_delete(actor=_user(request), saved_search=saved)
    messages.success(request, _("Saved search deleted."))
    return redirect("search:saved")
