from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import selectors, services, tiers
from apps.accounts.choices import ExportFormat
from apps.accounts.forms import ApiKeyForm
from apps.accounts.models import Tier
from apps.accounts.oidc import provider_logout_url
from apps.core.errors import DomainError


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = settings.OIDC_ENABLED
        if settings.OIDC_ENABLED:
            # The SSO button carries ?next= so single sign-on lands where the password form would.
            next_url = self.get_redirect_url()
            oidc_login_url = reverse("oidc_authentication_init")
            context["oidc_login_url"] = (
                f"{oidc_login_url}?{urlencode({'next': next_url})}" if next_url else oidc_login_url
            )
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
    keys = selectors.api_key_list(user=request.user)
    return render(request, "accounts/api_keys.html", {"api_keys": keys})


@never_cache
@login_required
@permission_required("accounts.add_apikey", raise_exception=True)
def api_key_create_view(request: HttpRequest) -> HttpResponse:
    """Issue a key and show its secret in this one response, which no browser or proxy may cache."""
    form = ApiKeyForm(request.POST or None, users=selectors.api_key_user_choices(user=request.user))
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(
                user=form.cleaned_data["user"],
                name=form.cleaned_data["name"],
                created_by=request.user,  # type: ignore[arg-type]
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            return render(request, "accounts/api_key_issued.html", {"issued": issued})
    return render(request, "accounts/api_key_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("accounts.change_apikey", raise_exception=True)
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask first (GET), revoke on POST: partners lose access at once and a revoked key never comes back."""
    api_key = get_object_or_404(selectors.api_key_list(user=request.user, action="change"), pk=pk)
    if request.method == "POST":
        services.api_key_revoke(api_key=api_key)
        messages.success(request, _("The API key “%(name)s” was revoked.") % {"name": api_key.name})
        return redirect("accounts:api-keys")
    return render(request, "accounts/api_key_revoke.html", {"api_key": api_key})


@login_required
@require_safe
def usage_view(request: HttpRequest) -> HttpResponse:
    """The organisation's plan and what it used: queries today against the limit, exports, PII unlocks, a week back."""
    organization = request.user.organization  # type: ignore[union-attr]
    if organization is None:
        raise PermissionDenied(_("You do not belong to an organisation."))
    history = tiers.usage_history(organization=organization)
    return render(
        request,
        "accounts/usage.html",
        {
            "organization": organization,
            "limits": tiers.tier_limits(organization=organization),
            "today": history[0],
            "history": history,
            "resets_in_hours": tiers.seconds_until_reset() // 3600,
        },
    )


@login_required
@require_safe
def upgrade_view(request: HttpRequest) -> HttpResponse:
    """The plans side by side, the organisation's own marked, and how to move to another."""
    organization = request.user.organization  # type: ignore[union-attr]
    return render(
        request,
        "accounts/upgrade.html",
        {
            "organization": organization,
            "tiers": Tier.objects.order_by("position", "name"),
            "format_labels": dict(ExportFormat.choices),
        },
    )
