from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import check_database, check_redis, check_worker


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """PostgreSQL, Redis and worker status; 200 when all are up, 503 when any is down."""
    components = [check_database(), check_redis(), check_worker()]
    healthy = all(c.ok for c in components)
    body = {
        "status": "ok" if healthy else "failing",
        "components": {c.name: {"ok": c.ok, "detail": c.detail} for c in components},
    }
    return JsonResponse(body, status=200 if healthy else 503)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")
