"""API authentication: partner API keys and OIDC bearer tokens (sessions come from DRF)."""

from __future__ import annotations

import hmac
from datetime import timedelta

import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone
from django.utils.translation import gettext as _
from mozilla_django_oidc.contrib.drf import OIDCAuthentication
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from apps.accounts.models import ApiKey, User
from apps.accounts.services import API_KEY_PREFIX, hash_api_key

API_KEY_KEYWORD = "Api-Key"
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key nxs_<prefix>_<secret>``.

    The prefix finds the key, the SHA-256 of the whole key must match the stored hash. Only a caller who holds
    the secret learns whether the key was revoked or its account disabled; anyone else gets "Invalid API key".
    """

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != API_KEY_KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid API key header: expected “Authorization: Api-Key <key>” with no spaces in the key.")
            )
        raw_key = parts[1].decode("latin-1")
        keyword, prefix, secret = [*raw_key.split("_", 2), "", ""][:3]
        if keyword != API_KEY_PREFIX or not prefix or not secret:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        api_key = (
            ApiKey.objects.select_related("organization", "user__membership__organization__tier")
            .filter(prefix=prefix)
            .first()
        )
        if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(raw_key)):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        user = api_key.user
        if not user.is_active or not api_key.organization.is_active or user.organization_id != api_key.organization_id:
            raise exceptions.AuthenticationFailed(_("The account or organisation of this API key is disabled."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            # A queryset update: no audit entry per use, and no race with a concurrent revocation.
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return user, api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{API_KEY_KEYWORD} realm="api"'


class IdentityProviderUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The sign-on provider cannot check tokens right now; try again shortly.")
    default_code = "identity_provider_unavailable"


class BearerTokenAuthentication(OIDCAuthentication):
    """``Authorization: Bearer <access token>`` from the SSO provider, checked against its userinfo endpoint.

    The userinfo claims go through the same role and organisation mapping as a browser sign-in, so a token
    whose account has lost its Nexus role or organisation is refused.
    """

    def authenticate(self, request: Request) -> tuple[User, str] | None:
        if not settings.OIDC_ENABLED:
            return None
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid bearer token header."))
        access_token = parts[1].decode("latin-1")
        try:
            user = self.backend.get_or_create_user(access_token, None, None)
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code < 500:
                raise exceptions.AuthenticationFailed(_("Invalid or expired access token.")) from exc
            raise IdentityProviderUnavailable from exc
        except requests.RequestException as exc:
            raise IdentityProviderUnavailable from exc
        except SuspiciousOperation as exc:
            raise exceptions.AuthenticationFailed(_("This account may not use Nexus.")) from exc
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(_("This account is disabled."))
        return user, access_token
