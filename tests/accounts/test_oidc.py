"""Keycloak single sign-on against a real OpenID Connect provider on localhost, driven like a browser.

The provider (``tests/peers/oidc_provider.mjs``) emits Keycloak-shaped claims; Nexus runs in the live server;
a ``requests.Session`` is the browser and follows the same redirects and forms a person would.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import SuspiciousOperation
from django.test import RequestFactory
from django.utils import translation
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.oidc import (
    KeycloakOIDCBackend,
    keycloak_roles,
    organization_from_claims,
    provider_logout_url,
    role_from_claims,
)
from tests.accounts.conftest import OIDC_CLIENT_ID
from tests.factories import OrganizationFactory
from tests.peers.oidc import OIDCProvider, only_form, submit

TIMEOUT = 10


def account(sub: str, **claims: Any) -> dict[str, Any]:
    return {
        "sub": sub,
        "preferred_username": sub,
        "email": f"{sub}@customs.example.gov.ua",
        "given_name": "Олена",
        "family_name": "Коваль",
        "realm_roles": ["offline_access", "uma_authorization"],
        "client_roles": {},
        **claims,
    }


def sso_login(browser: requests.Session, server: LiveServer, provider: OIDCProvider, sub: str) -> requests.Response:
    """Click "sign in with SSO", sign in at the provider, and come back through the callback."""
    login_page = browser.get(f"{server.url}/oidc/authenticate/", timeout=TIMEOUT)
    assert login_page.url.startswith(f"{provider.issuer}/interaction/"), login_page.url
    return submit(browser, login_page, login=sub)


def me(browser: requests.Session, server: LiveServer, **headers: str) -> requests.Response:
    return browser.get(f"{server.url}/api/v1/me/", headers=headers, timeout=TIMEOUT)


def group_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


# The real flow, end to end.


def test_sso_login_creates_the_user_with_role_groups_and_organisation(
    live_server: LiveServer, sso: OIDCProvider, organization: Organization
) -> None:
    sso.set_accounts(
        [
            account(
                "f3a1-olena",
                preferred_username="olena.koval",
                # Realm investigator and client supervisor: the more privileged supervisor wins.
                realm_roles=["offline_access", "nexus-investigator"],
                client_roles={OIDC_CLIENT_ID: ["nexus-supervisor"], "other-app": ["nexus-admin"]},
                organization=["/staff", f"/agencies/{organization.slug}"],
            )
        ]
    )
    browser = requests.Session()

    landed = sso_login(browser, live_server, sso, "f3a1-olena")

    assert landed.status_code == 200
    assert landed.url == f"{live_server.url}/"
    user = User.objects.get(oidc_subject="f3a1-olena")
    assert user.username == "olena.koval"
    assert (user.email, user.first_name, user.last_name) == ("f3a1-olena@customs.example.gov.ua", "Олена", "Коваль")
    assert not user.has_usable_password()
    assert user.organization == organization
    assert user.role == Role.SUPERVISOR
    assert group_names(user) == {Role.SUPERVISOR}
    assert not user.is_staff
    assert not user.is_superuser
    session_me = me(browser, live_server)
    assert session_me.status_code == 200
    assert session_me.json()["username"] == "olena.koval"
    assert session_me.json()["organization"]["slug"] == organization.slug
    assert session_me.json()["authenticated_by"] == "session"


def test_a_later_sso_login_updates_the_same_user_from_the_provider(
    live_server: LiveServer, sso: OIDCProvider, organization: Organization, other_organization: Organization
) -> None:
    sso.set_accounts([account("b7c2-taras", realm_roles=["nexus-investigator"], organization=organization.slug)])
    sso_login(requests.Session(), live_server, sso, "b7c2-taras")
    first = User.objects.get(oidc_subject="b7c2-taras")
    assert group_names(first) == {Role.INVESTIGATOR}

    # An administrator makes him an admin of the other organisation through a client role and renames him.
    sso.set_accounts(
        [
            account(
                "b7c2-taras",
                email="taras@odesa.example.gov.ua",
                given_name="Ярослав",
                realm_roles=[],
                client_roles={OIDC_CLIENT_ID: ["nexus-admin"]},
                organization=other_organization.name,
            )
        ]
    )
    landed = sso_login(requests.Session(), live_server, sso, "b7c2-taras")

    assert landed.url == f"{live_server.url}/"
    assert User.objects.filter(oidc_subject="b7c2-taras").count() == 1
    user = User.objects.get(oidc_subject="b7c2-taras")
    assert user.pk == first.pk
    assert user.username == first.username
    assert (user.email, user.first_name) == ("taras@odesa.example.gov.ua", "Ярослав")
    assert user.organization == other_organization
    assert user.role == Role.ADMIN
    assert group_names(user) == {Role.ADMIN}
    assert user.is_staff


def test_sso_never_takes_over_a_local_account_with_the_same_username_or_email(
    live_server: LiveServer, sso: OIDCProvider, investigator: User
) -> None:
    sso.set_accounts(
        [
            account(
                "c9d3-impostor",
                preferred_username=investigator.username,
                email=investigator.email,
                realm_roles=["nexus-admin"],
                organization=investigator.organization.slug,  # type: ignore[union-attr]
            )
        ]
    )

    sso_login(requests.Session(), live_server, sso, "c9d3-impostor")

    newcomer = User.objects.get(oidc_subject="c9d3-impostor")
    assert newcomer.pk != investigator.pk
    assert newcomer.username == f"{investigator.username}-2"
    investigator.refresh_from_db()
    assert investigator.oidc_subject is None
    assert investigator.role == Role.INVESTIGATOR


@pytest.mark.parametrize(
    ("realm_roles", "organization_claim"),
    [
        pytest.param(["offline_access", "some-other-app-role"], "kyiv-customs", id="no-mapped-role"),
        pytest.param(["nexus-investigator"], "/agencies/nowhere-customs", id="unknown-organisation"),
        pytest.param(["nexus-investigator"], None, id="no-organisation-claim"),
    ],
)
def test_refused_sso_login_creates_no_user_and_no_session(
    live_server: LiveServer,
    sso: OIDCProvider,
    organization: Organization,
    realm_roles: list[str],
    organization_claim: str | None,
) -> None:
    sso.set_accounts([account("d4e5-refused", realm_roles=realm_roles, organization=organization_claim)])
    browser = requests.Session()

    landed = sso_login(browser, live_server, sso, "d4e5-refused")

    assert landed.status_code == 200
    assert urlsplit(landed.url).path == "/accounts/login/"
    assert "Single sign-on did not sign you in" in landed.text
    assert not User.objects.filter(oidc_subject="d4e5-refused").exists()
    assert not User.objects.filter(username="d4e5-refused").exists()
    assert me(browser, live_server).status_code in {401, 403}
    home = browser.get(f"{live_server.url}/", timeout=TIMEOUT)
    assert urlsplit(home.url).path == "/accounts/login/"


def test_logout_ends_the_django_session_and_the_provider_session(
    live_server: LiveServer, sso: OIDCProvider, organization: Organization
) -> None:
    sso.set_accounts([account("e6f7-iryna", realm_roles=["nexus-investigator"], organization=organization.slug)])
    browser = requests.Session()
    sso_login(browser, live_server, sso, "e6f7-iryna")
    # While the provider session lives, signing in again needs no form at the provider.
    again = browser.get(f"{live_server.url}/oidc/authenticate/", timeout=TIMEOUT)
    assert again.url == f"{live_server.url}/"

    signed_out = browser.post(
        f"{live_server.url}/accounts/logout/",
        headers={"X-CSRFToken": browser.cookies["csrftoken"], "Referer": f"{live_server.url}/"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert signed_out.status_code == 302
    location = signed_out.headers["Location"]
    assert location.startswith(sso.configuration["end_session_endpoint"] + "?")
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert query["post_logout_redirect_uri"] == f"{live_server.url}/accounts/login/"
    assert query["client_id"] == OIDC_CLIENT_ID
    hint = jwt.decode(query["id_token_hint"], options={"verify_signature": False})
    assert (hint["sub"], hint["aud"], hint["iss"]) == ("e6f7-iryna", OIDC_CLIENT_ID, sso.issuer)
    assert me(browser, live_server).status_code in {401, 403}

    confirm = browser.get(location, timeout=TIMEOUT)
    assert confirm.url.startswith(sso.issuer)
    back = submit(browser, confirm)
    assert back.status_code == 200
    assert back.url == f"{live_server.url}/accounts/login/"
    # The provider forgot her: the next SSO sign-in asks for the account again.
    relogin = browser.get(f"{live_server.url}/oidc/authenticate/", timeout=TIMEOUT)
    assert relogin.url.startswith(f"{sso.issuer}/interaction/")


def _access_token_for(sso: OIDCProvider, server: LiveServer, sub: str) -> str:
    """A partner's own authorisation-code flow against the provider, ending with an access token."""
    browser = requests.Session()
    redirect_uri = f"{server.url}/oidc/callback/"
    params = {
        "client_id": sso.client_id,
        "response_type": "code",
        "scope": "openid email profile",
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(8),
    }
    login_page = browser.get(f"{sso.configuration['authorization_endpoint']}?{urlencode(params)}", timeout=TIMEOUT)
    # Follow the provider's redirects by hand, stopping where it hands the code back.
    form = only_form(login_page)
    response = browser.post(form.action, data={**form.fields, "login": sub}, allow_redirects=False, timeout=TIMEOUT)
    location = urljoin(response.url, response.headers["Location"])
    while not location.startswith(redirect_uri):
        response = browser.get(location, allow_redirects=False, timeout=TIMEOUT)
        location = urljoin(response.url, response.headers["Location"])
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = requests.post(
        sso.configuration["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": sso.client_id,
            "client_secret": sso.client_secret,
        },
        timeout=TIMEOUT,
    )
    token.raise_for_status()
    return str(token.json()["access_token"])


def test_api_accepts_the_providers_bearer_token_and_refuses_an_invalid_one(
    live_server: LiveServer, sso: OIDCProvider, organization: Organization
) -> None:
    partner = account("a8b9-partner", preferred_username="partner-bot", realm_roles=["nexus-partner"])
    sso.set_accounts([{**partner, "organization": organization.slug}])
    access_token = _access_token_for(sso, live_server, "a8b9-partner")

    response = me(requests.Session(), live_server, Authorization=f"Bearer {access_token}")

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "partner-bot"
    assert body["role"] == Role.PARTNER
    assert body["organization"]["slug"] == organization.slug
    assert body["authenticated_by"] == "bearer"
    assert User.objects.get(oidc_subject="a8b9-partner").organization == organization

    invalid = me(requests.Session(), live_server, Authorization="Bearer not-a-token-the-provider-issued")
    assert invalid.status_code == 401
    assert invalid.json()["detail"] == "Invalid or expired access token."

    # The token stays valid at the provider, but the account lost its organisation: the API stops serving it.
    sso.set_accounts([partner])
    refused = me(requests.Session(), live_server, Authorization=f"Bearer {access_token}")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "This account may not use Nexus."


# The claim mapping, without the provider.


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"realm_access": {"roles": ["nexus-partner", "nexus-supervisor"]}}, Role.SUPERVISOR),
        ({"resource_access": {OIDC_CLIENT_ID: {"roles": ["nexus-admin"]}}}, Role.ADMIN),
        (
            {
                "realm_access": {"roles": ["nexus-investigator"]},
                "resource_access": {OIDC_CLIENT_ID: {"roles": ["nexus-partner"]}},
            },
            Role.INVESTIGATOR,
        ),
        ({"resource_access": {"another-client": {"roles": ["nexus-admin"]}}}, None),
        ({"realm_access": {"roles": "nexus-supervisor"}}, Role.SUPERVISOR),
        ({"realm_access": None, "resource_access": ["nexus-admin"]}, None),
        ({}, None),
    ],
)
def test_role_from_claims_takes_the_most_privileged_mapped_role(
    settings: SettingsWrapper, claims: dict[str, Any], expected: str | None
) -> None:
    settings.OIDC_RP_CLIENT_ID = OIDC_CLIENT_ID

    assert role_from_claims(claims) == expected


def test_role_names_are_configurable(settings: SettingsWrapper) -> None:
    settings.OIDC_RP_CLIENT_ID = OIDC_CLIENT_ID
    settings.OIDC_ROLE_MAP = {**settings.OIDC_ROLE_MAP, "supervisor": "customs-team-lead"}
    claims = {"realm_access": {"roles": ["customs-team-lead", "nexus-supervisor"]}}

    assert role_from_claims(claims) == Role.SUPERVISOR
    assert role_from_claims({"realm_access": {"roles": ["nexus-supervisor"]}}) is None
    assert keycloak_roles(claims, OIDC_CLIENT_ID) == {"customs-team-lead", "nexus-supervisor"}


@pytest.mark.parametrize(
    "claim",
    [
        "kyiv-customs",
        "Київська митниця",
        "/kyiv-customs",
        "/agencies/kyiv-customs",
        ["/staff", "/agencies/kyiv-customs"],
        {"kyiv-customs": {"id": "5c1e"}},
    ],
    ids=["slug", "name", "group", "nested-group", "group-list", "keycloak-organization-object"],
)
def test_organization_from_claims_finds_the_organisation(organization: Organization, claim: object) -> None:
    OrganizationFactory(name="Львівська митниця", slug="lviv-customs")

    assert organization_from_claims({"organization": claim}) == organization


@pytest.mark.parametrize(
    "claim",
    [None, "", "/", "nowhere", ["/staff"], [], 42, ["kyiv-customs", "odesa-customs"]],
    ids=["missing", "empty", "root-group", "unknown", "no-organisation-group", "empty-list", "number", "two-orgs"],
)
def test_organization_from_claims_refuses_what_is_not_exactly_one_organisation(
    organization: Organization, other_organization: Organization, claim: object
) -> None:
    assert organization_from_claims({"organization": claim}) is None


def test_organization_claim_name_is_configurable_and_inactive_organisations_do_not_count(
    settings: SettingsWrapper, organization: Organization
) -> None:
    settings.OIDC_ORGANIZATION_CLAIM = "agency"

    assert organization_from_claims({"agency": "/kyiv-customs"}) == organization
    assert organization_from_claims({"organization": "kyiv-customs"}) is None
    Organization.objects.filter(pk=organization.pk).update(is_active=False)
    assert organization_from_claims({"agency": "/kyiv-customs"}) is None


def test_provider_logout_url_returns_to_the_one_registered_login_url(settings: SettingsWrapper) -> None:
    settings.LANGUAGE_CODE = "uk"
    settings.OIDC_RP_CLIENT_ID = OIDC_CLIENT_ID
    settings.OIDC_OP_LOGOUT_ENDPOINT = "https://sso.example.gov.ua/realms/customs/protocol/openid-connect/logout"
    request = RequestFactory().get("/en/")
    request.session = SessionStore()
    request.session["oidc_id_token"] = "the.id.token"

    with translation.override("en"):
        url = provider_logout_url(request)

    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(settings.OIDC_OP_LOGOUT_ENDPOINT + "?")
    assert query == {
        "client_id": OIDC_CLIENT_ID,
        "post_logout_redirect_uri": "http://testserver/accounts/login/",
        "id_token_hint": "the.id.token",
    }


class TestIdTokenChecks:
    """mozilla-django-oidc checks signature and nonce; the backend adds issuer and audience."""

    @pytest.fixture
    def signing_key(self, settings: SettingsWrapper) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        settings.OIDC_RP_CLIENT_ID = OIDC_CLIENT_ID
        settings.OIDC_OP_ISSUER = "https://sso.example.gov.ua/realms/customs"
        settings.OIDC_RP_IDP_SIGN_KEY = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return key

    def token(self, key: rsa.RSAPrivateKey, **claims: Any) -> str:
        payload = {"iss": "https://sso.example.gov.ua/realms/customs", "aud": OIDC_CLIENT_ID, "sub": "s", "nonce": "n"}
        return jwt.encode({**payload, **claims}, key, algorithm="RS256")

    def test_a_token_for_this_client_from_the_issuer_passes(self, signing_key: rsa.RSAPrivateKey) -> None:
        token = self.token(signing_key, aud=["account", OIDC_CLIENT_ID])

        assert KeycloakOIDCBackend().verify_token(token, nonce="n")["sub"] == "s"

    @pytest.mark.parametrize(
        "claims",
        [{"iss": "https://evil.example/realms/customs"}, {"aud": "another-client"}, {"aud": ["account"]}],
        ids=["other-issuer", "other-audience", "audience-list-without-us"],
    )
    def test_a_token_from_elsewhere_or_for_another_client_is_refused(
        self, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any]
    ) -> None:
        with pytest.raises(SuspiciousOperation):
            KeycloakOIDCBackend().verify_token(self.token(signing_key, **claims), nonce="n")
