"""API authentication: partner API keys and OIDC bearer tokens (sessions come from DRF)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from mozilla_django_oidc.contrib.drf import OIDCAuthentication
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from apps.accounts.models import ApiKey, User
from apps.accounts.services import hash_api_key

API_KEY_KEYWORD = b"api-key"
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key nxs_<prefix>_<secret>``."""

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != API_KEY_KEYWORD:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid API key header."))
        raw_key = parts[1].decode("latin-1")
        pieces = raw_key.split("_", 2)
        if len(pieces) != 3:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        api_key = (
            ApiKey.objects.select_related("user", "user__membership", "organization").filter(prefix=pieces[1]).first()
        )
        if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(raw_key)):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        user = api_key.user
        if not user.is_active or not api_key.organization.is_active or user.organization_id != api_key.organization_id:
            raise exceptions.AuthenticationFailed(_("This API key's account is disabled."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return user, api_key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"


class BearerTokenAuthentication(OIDCAuthentication):
    """``Authorization: Bearer <access token>`` from the SSO provider, checked against its userinfo endpoint."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if not settings.OIDC_ENABLED:
            return None
        return super().authenticate(request)
