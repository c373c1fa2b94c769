"""How the OpenAPI schema (drf-spectacular) describes our authentication classes.

Imported from ``AccountsConfig.ready()`` so the extensions are registered before any schema is generated.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": _(
                "A partner API key issued on the API keys page, sent as `Authorization: Api-Key nxs_<prefix>_<secret>`."
            ),
        }


class BearerTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.api.authentication.BearerTokenAuthentication"
    name = "OidcBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": _(
                "An access token from the organisation's single sign-on (Keycloak), sent as "
                "`Authorization: Bearer <token>`."
            ),
        }
