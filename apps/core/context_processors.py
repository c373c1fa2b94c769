"""What the layout needs on every page: the navigation (only pages that exist and the user may open) and the
language switcher's return address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    description: str | Promise = ""
    permission: str | None = None
    staff_only: bool = False


# The main menu, in order. An app adds its pages here; an entry shows when its URL name resolves and the user
# passes its checks. The description is what the home page says about the section.
NAVIGATION = [
    NavItem(_("Home"), "core:home"),
    NavItem(
        _("Datasets"),
        "datasets:list",
        _("Load customs declarations, tax invoices, registers and Telegram exports, and follow each file in."),
        permission="datasets.view_dataset",
    ),
    NavItem(
        _("Entities"),
        "entities:list",
        _("The companies, people and accounts behind the records: their profiles, links, timelines and graph."),
        permission="entities.view_entity",
    ),
    NavItem(
        _("Anomalies"),
        "anomalies:feed",
        _("The live feed of what the detectors and the risk model found, with verdicts and cases."),
        permission="anomalies.view_anomaly",
    ),
    NavItem(
        pgettext_lazy("navigation", "Search"),
        "search:search",
        _("One box over entities, records, messages, documents and cases, with saved searches."),
        permission="search.view_savedsearch",
    ),
    NavItem(
        _("Cases"),
        "cases:list",
        _("Your investigations: their team, tasks, notes, evidence, timeline and reports."),
        permission="cases.add_case",
    ),
    NavItem(
        _("API keys"),
        "accounts:api-keys",
        _("Issue and revoke the keys partner systems use to call the API."),
        permission="accounts.view_apikey",
    ),
    NavItem(
        _("API documentation"),
        "api-docs",
        _("The partner REST API: endpoints, fields and how to authenticate."),
    ),
    NavItem(
        _("Administration"),
        "admin:index",
        _("Users, organisations, roles and the audit log."),
        staff_only=True,
    ),
]


@dataclass(frozen=True)
class NavLink:
    label: str | Promise
    url: str
    description: str | Promise
    active: bool


def navigation_for(request: HttpRequest) -> list[NavLink]:
    """The items of ``NAVIGATION`` whose page is routed and that ``request.user`` may open."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return []
    home_url = reverse("core:home")
    links = []
    for item in NAVIGATION:
        if item.staff_only and not user.is_staff:
            continue
        if item.permission and not user.has_perm(item.permission):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            # An app that is not routed (switched off, or not built yet) shows no entry.
            continue
        # A section stays current on its sub-pages; the home page only on itself.
        active = request.path == url or (url != home_url and request.path.startswith(url))
        links.append(NavLink(label=item.label, url=url, description=item.description, active=active))
    return links


def navigation(request: HttpRequest) -> dict[str, Any]:
    return {"navigation": navigation_for(request)}


def language_switcher(request: HttpRequest) -> dict[str, Any]:
    """The current address without its language prefix, for the language switcher to return to.

    ``set_language`` translates ``next`` by resolving it in the request's language, which for ``/i18n/setlang/``
    is the default one; with the default language unprefixed, an ``/en/…`` address does not resolve there and
    the switch back to Ukrainian would land on the English page again. The unprefixed address resolves, and
    ``set_language`` then adds the prefix of the chosen language.
    """
    path = request.get_full_path()
    for code, _name in settings.LANGUAGES:
        prefix = f"/{code}/"
        if path.startswith(prefix):
            return {"language_switch_next": "/" + path.removeprefix(prefix)}
    return {"language_switch_next": path}
