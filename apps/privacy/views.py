"""The unlock: a form that states a reason, and the answer (the control again, or the page the user came from).

The object is named by ``app_label.model`` and its id, and found through its model's ``restrict()``: another
organisation's object, or one the user may not see, is a 404 like everywhere else.
"""

from __future__ import annotations

from typing import Any, cast

from django.apps import apps as django_apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.accounts.models import User
from apps.accounts.tiers import TierRefused
from apps.core.errors import DomainError
from apps.privacy import services
from apps.privacy.forms import UnlockForm
from apps.privacy.selectors import pii_unlock_state


def _target_or_404(request: HttpRequest, target_type: str, object_id: str) -> Model:
    try:
        model = django_apps.get_model(target_type)
    except (LookupError, ValueError):
        raise Http404(_("No such object.")) from None
    manager: Any = model._default_manager
    if not hasattr(manager, "restrict"):
        raise Http404(_("No such object."))
    try:
        return cast(Model, manager.restrict(request.user, "view").get(pk=object_id))
    except (model.DoesNotExist, ValueError):
        raise Http404(_("No such object.")) from None


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}, require_https=False):
        return candidate
    return ""


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pii_unlock_view(request: HttpRequest, target_type: str, object_id: str) -> HttpResponse:
    target = _target_or_404(request, target_type, object_id)
    user = cast(User, request.user)
    form = UnlockForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.pii_unlock(user=user, target=target, reason=form.cleaned_data["reason"])
            except (DomainError, TierRefused) as exc:
                form.add_error(None, str(exc))
                status = 403 if isinstance(exc, services.PIIUnlockRefused | TierRefused) else 400
            else:
                messages.success(request, _("Personal data is shown for a limited time. The disclosure was recorded."))
                if request.htmx:  # type: ignore[attr-defined]
                    response = HttpResponse()
                    response["HX-Refresh"] = "true"
                    return response
                return redirect(_next_url(request) or request.get_full_path())
        else:
            status = 400
    context = {
        "target": target,
        "target_type": target_type,
        "target_label": services.object_label(target),
        "state": pii_unlock_state(user=user, target=target),
        "form": form,
        "next": _next_url(request),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(render_to_string("privacy/partials/unlock_form.html", context, request), status=status)
    return render(request, "privacy/unlock.html", context, status=status)


@login_required
@require_http_methods(["POST"])
def pii_lock_view(request: HttpRequest, target_type: str, object_id: str) -> HttpResponse:
    """Mask the object again before the unlock runs out."""
    target = _target_or_404(request, target_type, object_id)
    services.pii_unlock_end(user=cast(User, request.user), target=target)
    messages.info(request, _("Personal data is masked again."))
    return redirect(_next_url(request) or "core:home")
