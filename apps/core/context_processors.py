"""The navigation: only pages that exist, only those the user may open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    permission: str | None = None
    staff_only: bool = False


NAVIGATION = [
    NavItem(_("Home"), "core:home"),
    NavItem(_("API keys"), "accounts:api-keys", permission="accounts.view_apikey"),
    NavItem(_("API documentation"), "api-docs"),
    NavItem(_("Administration"), "admin:index", staff_only=True),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"navigation": []}
    items = []
    for item in NAVIGATION:
        if item.staff_only and not user.is_staff:
            continue
        if item.permission and not user.has_perm(item.permission):
            continue
        url = reverse(item.url_name)
        items.append({"label": item.label, "url": url, "active": request.path == url})
    return {"navigation": items}
