from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts import selectors, services
from apps.accounts.forms import ApiKeyForm
from apps.accounts.oidc import provider_logout_url


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = settings.OIDC_ENABLED
        return context


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out of Nexus, and of the SSO session too when the user came through it."""
    signed_in_through_sso = bool(request.session.get("oidc_id_token"))
    redirect_to = provider_logout_url(request) if signed_in_through_sso else None
    logout(request)
    return HttpResponseRedirect(redirect_to or reverse("accounts:login"))


@login_required
@permission_required("accounts.view_apikey", raise_exception=True)
def api_key_list(request: HttpRequest) -> HttpResponse:
    keys = selectors.api_key_list(user=request.user)  # type: ignore[arg-type]
    return render(request, "accounts/api_keys.html", {"api_keys": keys})


@login_required
@permission_required("accounts.add_apikey", raise_exception=True)
def api_key_create_view(request: HttpRequest) -> HttpResponse:
    users = selectors.organization_users(user=request.user)  # type: ignore[arg-type]
    form = ApiKeyForm(request.POST or None, users=users)
    if request.method == "POST" and form.is_valid():
        issued = services.api_key_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            created_by=request.user,  # type: ignore[arg-type]
        )
        return render(request, "accounts/api_key_issued.html", {"issued": issued})
    return render(request, "accounts/api_key_form.html", {"form": form})


@require_POST
@login_required
@permission_required("accounts.change_apikey", raise_exception=True)
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(selectors.api_key_list(user=request.user), pk=pk)  # type: ignore[arg-type]
    services.api_key_revoke(api_key=api_key)
    messages.success(request, _("The API key “%(name)s” was revoked.") % {"name": api_key.name})
    return redirect("accounts:api-keys")
