"""Keycloak single sign-on through mozilla-django-oidc.

The backend creates or updates the user from the ID token and the userinfo
claims, maps Keycloak roles (``realm_access.roles`` and
``resource_access.<client>.roles``) to a Nexus role, and the organisation claim
to a membership. Names are configurable (``OIDC_ROLE_MAP``,
``OIDC_ORGANIZATION_CLAIM``). Superuser status never comes from SSO.

Users are matched by the provider's ``sub`` only, never by e-mail: an e-mail
address someone controls at the provider must not hand them an existing local
account. Keycloak's role mappers put the roles in the access token by default;
switch on "Add to ID token" or "Add to userinfo" for the realm and client role
mappers and for the organisation mapper.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.services import membership_set

logger = logging.getLogger(__name__)

# When a user holds several mapped roles, the most privileged wins.
ROLE_PRECEDENCE = (Role.ADMIN, Role.SUPERVISOR, Role.INVESTIGATOR, Role.PARTNER)


def _claim_strings(value: object) -> list[str]:
    """One string, a list of strings, or an object keyed by them (Keycloak's organisation claim with attributes)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value)
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def keycloak_roles(claims: dict[str, Any], client_id: str) -> set[str]:
    """The realm roles and this client's roles the claims grant."""
    roles: set[str] = set()
    realm_access = claims.get("realm_access")
    if isinstance(realm_access, dict):
        roles.update(_claim_strings(realm_access.get("roles")))
    resource_access = claims.get("resource_access")
    client_access = resource_access.get(client_id) if isinstance(resource_access, dict) else None
    if isinstance(client_access, dict):
        roles.update(_claim_strings(client_access.get("roles")))
    return roles


def role_from_claims(claims: dict[str, Any]) -> str | None:
    """The most privileged Nexus role whose mapped Keycloak role the claims hold, or None."""
    held = keycloak_roles(claims, settings.OIDC_RP_CLIENT_ID)
    for role in ROLE_PRECEDENCE:
        if settings.OIDC_ROLE_MAP.get(role.value) in held:
            return role.value
    return None


def _organization_keys(values: Iterable[str]) -> set[str]:
    # A Keycloak group path such as "/agencies/kyiv-customs" names the organisation by its last segment.
    return {key for value in values if (key := value.strip().strip("/").rsplit("/", 1)[-1].strip())}


def organization_from_claims(claims: dict[str, Any]) -> Organization | None:
    """The one active organisation the claim names by slug, name or group path; None if none or several match.

    The claim may be a string, a list (several groups, of which one is an organisation) or an object keyed by
    organisation alias, as Keycloak's organisation mapper emits it.
    """
    keys = _organization_keys(_claim_strings(claims.get(settings.OIDC_ORGANIZATION_CLAIM)))
    if not keys:
        return None
    matches = list(Organization.objects.filter(Q(slug__in=keys) | Q(name__in=keys), is_active=True)[:2])
    if len(matches) > 1:
        # One user, one organisation: picking either would be a guess about which tenant's data they may see.
        logger.warning("SSO organisation claim %s names several organisations", sorted(keys))
        return None
    return matches[0] if matches else None


class KeycloakOIDCBackend(OIDCAuthenticationBackend):
    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if not settings.OIDC_ENABLED:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        # mozilla-django-oidc checks the signature, expiry and nonce but neither the issuer nor the audience.
        if settings.OIDC_OP_ISSUER and payload.get("iss") != settings.OIDC_OP_ISSUER:
            raise SuspiciousOperation("ID token from an unexpected issuer")
        audience = payload.get("aud")
        if self.OIDC_RP_CLIENT_ID not in _claim_strings(audience):
            raise SuspiciousOperation("ID token issued to another client")
        return payload

    def get_userinfo(self, access_token: str, id_token: str | None, payload: dict[str, Any] | None) -> dict[str, Any]:
        userinfo: dict[str, Any] = super().get_userinfo(access_token, id_token, payload)
        if payload is None:
            return userinfo
        if userinfo.get("sub") != payload.get("sub"):
            # OpenID Connect Core 5.3.2: a userinfo response about someone else must not be used.
            raise SuspiciousOperation("userinfo subject differs from the ID token's")
        # Keycloak puts the role claims in the tokens; userinfo may or may not repeat them.
        return {**payload, **userinfo}

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return False
        if role_from_claims(claims) is None:
            logger.warning("SSO login refused: no mapped role for subject %s", subject)
            return False
        if organization_from_claims(claims) is None:
            logger.warning("SSO login refused: no known organisation for subject %s", subject)
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return User.objects.filter(oidc_subject=claims["sub"])

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> User:
        username = self._free_username(claims.get("preferred_username") or claims["sub"])
        # No password: this account signs in through the provider only.
        user = User.objects.create_user(username=username, oidc_subject=claims["sub"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        """Bring the profile and the membership in line with the provider; writes only what changed."""
        profile = {
            "email": claims.get("email", user.email) or "",
            "first_name": claims.get("given_name", user.first_name) or "",
            "last_name": claims.get("family_name", user.last_name) or "",
        }
        changed = [field for field, value in profile.items() if getattr(user, field) != value]
        for field in changed:
            setattr(user, field, profile[field])
        if changed:
            user.save(update_fields=changed)
        role = role_from_claims(claims)
        organization = organization_from_claims(claims)
        if role is None or organization is None:
            raise SuspiciousOperation("claims no longer name a role and an organisation")
        membership = user.membership_or_none
        if membership is None or membership.organization_id != organization.pk or membership.role != role:
            membership_set(user=user, organization=organization, role=role)
        return user

    @staticmethod
    def _free_username(wanted: str) -> str:
        base = wanted[:140]
        candidate, suffix = base, 1
        while User.objects.filter(username=candidate).exists():
            suffix += 1
            candidate = f"{base}-{suffix}"
        return candidate


class KeycloakCallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back; a refused sign-in lands on the login page with the reason."""

    def login_failure(self) -> HttpResponseRedirect:
        if not self.request.user.is_authenticated:
            # mozilla-django-oidc stores the tokens before it checks the claims; a refused visitor keeps none.
            for key in ("oidc_id_token", "oidc_access_token"):
                self.request.session.pop(key, None)
        messages.error(
            self.request,
            _(
                "Single sign-on did not sign you in. Your account needs a Nexus role and an organisation "
                "in the identity provider; ask your administrator."
            ),
        )
        return HttpResponseRedirect(reverse("accounts:login"))


def provider_logout_url(request: HttpRequest) -> str:
    """Keycloak's end-session endpoint, so signing out of Nexus also ends the SSO session."""
    # The provider only returns to registered URIs: always the default language's login URL, one URI to register.
    with translation.override(settings.LANGUAGE_CODE):
        login_url = reverse("accounts:login")
    if not settings.OIDC_OP_LOGOUT_ENDPOINT:
        return login_url
    params = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(login_url),
    }
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{urlencode(params)}"
