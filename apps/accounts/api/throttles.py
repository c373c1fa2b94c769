"""The billing tier's gate on the partner API: access, requests a minute, queries a day.

DRF checks throttles after authentication and permissions, so the caller is a known member of an organisation
here. A refusal is HTTP 429 with ``Retry-After`` (``QuotaExceeded`` → ``Throttled`` in
``apps.core.api.exceptions``), or 403 when the tier has no API access at all.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.accounts.tiers import QuotaExceeded, Surface, api_rate_consume, quota_consume, tier_limits

# Only the versioned partner API; the schema and its documentation stay readable on every tier.
API_NAMESPACE = "api"


class TierThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        match = request.resolver_match
        if match is None or API_NAMESPACE not in match.namespaces:
            return True
        user = request.user
        organization = getattr(user, "organization", None) if user.is_authenticated else None
        if organization is None:
            return True
        limits = tier_limits(organization=organization)
        if not limits.api_access:
            raise PermissionDenied(
                _("The %(tier)s plan does not include API access. An administrator can upgrade the plan.")
                % {"tier": limits.name}
            )
        try:
            api_rate_consume(organization=organization)
            quota_consume(organization=organization, surface=Surface.API)
        except QuotaExceeded as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from exc
        return True
