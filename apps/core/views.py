from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.core.context_processors import navigation_for
from apps.core.health import health_components


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """PostgreSQL, Redis and worker status; 200 when all are up, 503 when any is down."""
    components = health_components()
    healthy = all(c.ok for c in components)
    body = {
        "status": "ok" if healthy else "failing",
        "components": {c.name: {"ok": c.ok, "detail": c.detail} for c in components},
    }
    return JsonResponse(body, status=200 if healthy else 503)


# The names the home page shows for the components of apps.core.health.
COMPONENT_LABELS = {
    "database": _("Database"),
    "redis": _("Queue, cache and live updates"),
    "worker": _("Background workers"),
}


@dataclass(frozen=True)
class ComponentSummary:
    label: str
    ok: bool


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's start page: organisation, role, where to go and, for administrators, system status."""
    user = request.user
    home_url = reverse("core:home")
    context: dict[str, Any] = {
        "membership": user.membership_or_none,  # type: ignore[union-attr]
        "sections": [link for link in navigation_for(request) if link.url != home_url],
    }
    if user.has_perm("core.view_healthcheck"):
        context["system_status"] = [
            ComponentSummary(label=str(COMPONENT_LABELS.get(c.name, c.name)), ok=c.ok) for c in health_components()
        ]
    return render(request, "core/home.html", context)
