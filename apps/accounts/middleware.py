"""The billing tier's gate on the pages (``apps.accounts.tiers`` says what a query is).

A full page of an app read with GET counts one query; its HTMX fragments and the JSON its scripts fetch count
none but are refused while the quota is used up. The account pages (usage, upgrade, sign-in), the home page,
admin, the personal-data unlock and everything outside the apps (static files, health, language switch, the API,
which has its own gate in ``apps.accounts.api.throttles``) are never gated. A ``QuotaExceeded`` raised by a
service inside a view (an export) gets the same friendly answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from apps.accounts.tiers import QuotaExceeded, Surface, quota_check, quota_consume

QUOTA_EXEMPT_NAMESPACES = frozenset({"admin", "accounts", "core", "privacy", "api"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Search pages are tallied as searches on the usage page; they count against the quota like any page.
SEARCH_NAMESPACE = "search"


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _is_part_of_a_page(request: HttpRequest) -> bool:
    """An HTMX fragment or the JSON a page's script fetches (the entity graph): part of a page already counted."""
    return bool(getattr(request, "htmx", False)) or _wants_json(request)


def quota_exceeded_response(request: HttpRequest, exc: QuotaExceeded) -> HttpResponse:
    """429 with ``Retry-After``: the friendly page, or for an HTMX request a reload that lands on it."""
    if getattr(request, "htmx", False):
        response = HttpResponse(str(exc), status=429, content_type="text/plain; charset=utf-8")
        response["HX-Refresh"] = "true"
    elif _wants_json(request):
        response = JsonResponse({"detail": str(exc)}, status=429)
    else:
        response = TemplateResponse(
            request, "accounts/quota_exceeded.html", {"message": str(exc), "retry_after": exc.retry_after}, status=429
        ).render()
    response["Retry-After"] = str(exc.retry_after)
    return response


class TierQuotaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or request.method not in SAFE_METHODS:
            return None
        if not match.namespaces or match.namespaces[0] in QUOTA_EXEMPT_NAMESPACES:
            return None
        user = request.user
        if not user.is_authenticated:
            return None
        organization_id = user.organization_id
        if organization_id is None:
            return None
        try:
            if _is_part_of_a_page(request):
                quota_check(organization=organization_id)
            else:
                surface = Surface.SEARCH if match.namespaces[0] == SEARCH_NAMESPACE else Surface.PAGE
                quota_consume(organization=organization_id, surface=surface)
        except QuotaExceeded as exc:
            return quota_exceeded_response(request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, QuotaExceeded):
            return quota_exceeded_response(request, exception)
        return None
