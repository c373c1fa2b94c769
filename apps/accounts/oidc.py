"""Keycloak single sign-on through mozilla-django-oidc.

The backend creates or updates the user from the ID token and the userinfo
claims, maps Keycloak roles (``realm_access.roles`` and
``resource_access.<client>.roles``) to a Nexus role, and the organisation claim
to a membership. Names are configurable (``OIDC_ROLE_MAP``,
``OIDC_ORGANIZATION_CLAIM``). Superuser status never comes from SSO.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.services import membership_set

logger = logging.getLogger(__name__)

# When a user holds several mapped roles, the most privileged wins.
ROLE_PRECEDENCE = [Role.ADMIN, Role.SUPERVISOR, Role.INVESTIGATOR, Role.PARTNER]


def keycloak_roles(claims: dict[str, Any], client_id: str) -> set[str]:
    roles = set(claims.get("realm_access", {}).get("roles", []))
    roles |= set(claims.get("resource_access", {}).get(client_id, {}).get("roles", []))
    return roles


def role_from_claims(claims: dict[str, Any]) -> str | None:
    held = keycloak_roles(claims, settings.OIDC_RP_CLIENT_ID)
    for role in ROLE_PRECEDENCE:
        if settings.OIDC_ROLE_MAP[role] in held:
            return role.value
    return None


def organization_from_claims(claims: dict[str, Any]) -> Organization | None:
    """The organisation named by the claim: a slug, a name, or a Keycloak group path such as ``/customs-kyiv``."""
    value = claims.get(settings.OIDC_ORGANIZATION_CLAIM)
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        return None
    key = value.strip().strip("/").rsplit("/", 1)[-1]
    return Organization.objects.filter(is_active=True).filter(slug=key).first() or (
        Organization.objects.filter(is_active=True, name=key).first()
    )


class KeycloakOIDCBackend(OIDCAuthenticationBackend):
    def get_userinfo(self, access_token: str, id_token: str | None, payload: dict[str, Any] | None) -> dict[str, Any]:
        # Keycloak puts roles in the tokens; userinfo may or may not repeat them. Use both, userinfo last.
        claims = dict(payload or {})
        claims.update(super().get_userinfo(access_token, id_token, payload))
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if not claims.get("sub"):
            return False
        if role_from_claims(claims) is None:
            logger.warning("SSO login refused: no mapped role for subject %s", claims.get("sub"))
            return False
        if organization_from_claims(claims) is None:
            logger.warning("SSO login refused: unknown organisation for subject %s", claims.get("sub"))
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return User.objects.filter(oidc_subject=claims["sub"])

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> User:
        username = self._free_username(claims.get("preferred_username") or claims["sub"])
        user = User.objects.create_user(username=username, oidc_subject=claims["sub"])
        user.set_unusable_password()
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        user.email = claims.get("email", user.email) or ""
        user.first_name = claims.get("given_name", user.first_name) or ""
        user.last_name = claims.get("family_name", user.last_name) or ""
        user.save()
        role = role_from_claims(claims)
        organization = organization_from_claims(claims)
        if role is not None and organization is not None:
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


def provider_logout_url(request: HttpRequest) -> str:
    """Keycloak's end-session endpoint, so signing out of Nexus also ends the SSO session."""
    params = {"post_logout_redirect_uri": request.build_absolute_uri(reverse("accounts:login"))}
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    else:
        params["client_id"] = settings.OIDC_RP_CLIENT_ID
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{urlencode(params)}"
