from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from tests.peers.oidc import OIDCProvider, start_oidc_provider

OIDC_CLIENT_ID = "nexus-core"


@pytest.fixture(scope="session")
def oidc_provider(live_server: LiveServer) -> Iterator[OIDCProvider]:
    """A real OpenID Connect provider on localhost with Nexus registered as its confidential client."""
    provider = start_oidc_provider(
        client_id=OIDC_CLIENT_ID,
        client_secret=secrets.token_urlsafe(24),
        redirect_uri=f"{live_server.url}/oidc/callback/",
        post_logout_redirect_uri=f"{live_server.url}/accounts/login/",
        accounts=[],
    )
    yield provider
    provider.stop()


@pytest.fixture
def sso(oidc_provider: OIDCProvider, settings: SettingsWrapper) -> OIDCProvider:
    """Single sign-on switched on and pointed at the provider, configured from its discovery document."""
    configuration = oidc_provider.configuration
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = oidc_provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = oidc_provider.client_secret
    settings.OIDC_OP_ISSUER = configuration["issuer"]
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = configuration["authorization_endpoint"]
    settings.OIDC_OP_TOKEN_ENDPOINT = configuration["token_endpoint"]
    settings.OIDC_OP_USER_ENDPOINT = configuration["userinfo_endpoint"]
    settings.OIDC_OP_JWKS_ENDPOINT = configuration["jwks_uri"]
    settings.OIDC_OP_LOGOUT_ENDPOINT = configuration["end_session_endpoint"]
    return oidc_provider
