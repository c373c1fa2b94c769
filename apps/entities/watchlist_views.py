"""The watchlist pages: the organisation's lists, uploading one, and a list with its hits and "Screen now".

Lists are read through ``Watchlist.objects.restrict(user, …)``: another organisation's list is a 404 on every page.
A hit shows the entity by its display name (a person's is a masking token) and the list's entry the same way
(``entry_display_name``); nothing here reads the privacy vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from apps.core.errors import DomainError
from apps.entities.models import Watchlist, WatchlistHit
from apps.entities.tasks import entities_watchlist_screen
from apps.entities.watchlist_forms import WatchlistUploadForm
from apps.entities.watchlists import entry_display_name, field_label, watchlist_import

if TYPE_CHECKING:
    from apps.accounts.models import Organization, User

PAGE_SIZE = 25
HITS_PAGE_SIZE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.htmx)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> User:
    """The signed-in user of a view behind ``login_required``."""
    return cast("User", request.user)


def _watchlists(request: HttpRequest, action: str = "view") -> QuerySet[Watchlist]:
    return Watchlist.objects.restrict(request.user, action)


def _queue_screen(watchlist: Watchlist) -> None:
    """Screen the organisation against the list in a worker, once what this request wrote is committed."""
    watchlist_id = watchlist.pk
    transaction.on_commit(lambda: entities_watchlist_screen.delay(watchlist_id))


@require_safe
@login_required
@permission_required("entities.view_watchlist", raise_exception=True)
def watchlist_list(request: HttpRequest) -> HttpResponse:
    watchlists = _watchlists(request).select_related("created_by").order_by("name", "pk")
    page_obj = Paginator(watchlists, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "entities/watchlist_list.html", {"page_obj": page_obj})


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@permission_required("entities.add_watchlist", raise_exception=True)
def watchlist_upload(request: HttpRequest) -> HttpResponse:
    form = WatchlistUploadForm(request.POST or None, request.FILES or None)
    user = _user(request)
    if request.method == "POST" and user.organization is None:
        form.add_error(None, _("Your account belongs to no organisation, and every watchlist belongs to one."))
    if request.method == "POST" and form.is_valid():
        try:
            watchlist = watchlist_import(
                organization=cast("Organization", user.organization),
                user=user,
                name=form.cleaned_data["name"],
                uploaded_file=form.cleaned_data["file"],
            )
        except DomainError as error:
            form.add_error("file", str(error))
        else:
            _queue_screen(watchlist)
            messages.success(
                request,
                ngettext(
                    "“%(name)s” is imported with %(count)d entry; your organisation is being screened against it.",
                    "“%(name)s” is imported with %(count)d entries; your organisation is being screened against it.",
                    watchlist.entry_count,
                )
                % {"name": watchlist.name, "count": watchlist.entry_count},
            )
            url = reverse("entities:watchlist-detail", args=[watchlist.pk])
            return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
    template = "entities/watchlist_upload_form.html" if _is_htmx(request) else "entities/watchlist_upload.html"
    return render(request, template, {"form": form})


@dataclass(frozen=True)
class FactorRow:
    label: str
    entity_value: str
    entry_value: str
    percent: int
    agrees: bool


@dataclass(frozen=True)
class HitRow:
    hit: WatchlistHit
    entry_name: str
    factors: list[FactorRow]


def _hit_row(hit: WatchlistHit) -> HitRow:
    factors = [
        FactorRow(
            label=field_label(factor["field"]),
            entity_value=factor["entity_value"],
            entry_value=factor["entry_value"],
            percent=round(factor["similarity"] * 100),
            agrees=factor["similarity"] > 0,
        )
        for factor in hit.explanation
    ]
    return HitRow(hit=hit, entry_name=entry_display_name(hit.entry), factors=factors)


@require_safe
@login_required
@permission_required(("entities.view_watchlist", "entities.view_watchlisthit"), raise_exception=True)
def watchlist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = get_object_or_404(_watchlists(request).select_related("created_by"), pk=pk)
    hits = (
        WatchlistHit.objects.filter(organization_id=watchlist.organization_id, entry__watchlist=watchlist)
        .select_related("entity", "entry")
        .order_by("-score", "id")
    )
    page_obj = Paginator(hits, HITS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "watchlist": watchlist,
        "page_obj": page_obj,
        "rows": [_hit_row(hit) for hit in page_obj.object_list],
        "can_screen": request.user.has_perm("entities.change_watchlist"),
    }
    return render(request, "entities/watchlist_detail.html", context)


@require_POST
@login_required
@permission_required("entities.change_watchlist", raise_exception=True)
def watchlist_screen_now(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = get_object_or_404(_watchlists(request, "change"), pk=pk)
    _queue_screen(watchlist)
    messages.success(
        request,
        _("Your organisation is being screened against “%(name)s”; reload the page in a moment to see the hits.")
        % {"name": watchlist.name},
    )
    url = reverse("entities:watchlist-detail", args=[watchlist.pk])
    return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
