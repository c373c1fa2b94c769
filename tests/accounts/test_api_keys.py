"""Partner API keys: issued once, stored hashed, authenticate /api/v1/, revocable, confined to one organisation."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.choices import Role
from apps.accounts.models import ApiKey, Organization, User
from apps.accounts.services import api_key_create, api_key_revoke, membership_set
from apps.core.errors import DomainError
from tests.factories import UserFactory, member

ME_URL = "/api/v1/me/"


def call_me(raw_key: str) -> tuple[int, dict[str, object], str]:
    response = APIClient().get(ME_URL, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return response.status_code, response.json(), response.get("WWW-Authenticate", "")


class TestIssuing:
    def test_the_key_is_returned_once_and_only_its_hash_is_stored(self, partner: User, org_admin: User) -> None:
        issued = api_key_create(user=partner, name="Митний брокер", created_by=org_admin)

        assert re.fullmatch(r"nxs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", issued.raw_key)
        stored = ApiKey.objects.get(pk=issued.api_key.pk)
        assert stored.prefix == issued.raw_key.split("_")[1]
        assert stored.key_hash == hashlib.sha256(issued.raw_key.encode()).hexdigest()
        secret = issued.raw_key.split("_", 2)[2]
        assert secret not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
        assert (stored.organization, stored.user, stored.created_by) == (partner.organization, partner, org_admin)

    def test_a_user_outside_any_organization_cannot_hold_a_key(self, db: None) -> None:
        with pytest.raises(DomainError):
            api_key_create(user=UserFactory(), name="orphan")
        assert not ApiKey.objects.exists()

    def test_an_inactive_user_cannot_be_given_a_key(self, partner: User) -> None:
        partner.is_active = False
        partner.save()
        with pytest.raises(DomainError):
            api_key_create(user=partner, name="late")


class TestAuthentication:
    def test_a_key_authenticates_as_its_user(self, partner: User, organization: Organization) -> None:
        issued = api_key_create(user=partner, name="broker")
        status, body, _challenge = call_me(issued.raw_key)
        assert status == 200
        assert body["username"] == partner.username
        assert body["role"] == Role.PARTNER
        assert body["organization"]["slug"] == organization.slug  # type: ignore[index]
        assert body["authenticated_by"] == "api_key"

    def test_last_used_at_is_recorded_at_most_once_a_minute(self, partner: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        assert issued.api_key.last_used_at is None

        assert call_me(issued.raw_key)[0] == 200
        first_use = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
        assert first_use is not None
        assert timezone.now() - first_use < timedelta(seconds=30)

        assert call_me(issued.raw_key)[0] == 200
        assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == first_use

        ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=first_use - timedelta(minutes=5))
        assert call_me(issued.raw_key)[0] == 200
        assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at > first_use  # type: ignore[operator]

    def test_a_revoked_key_is_refused_with_a_clear_message(self, partner: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        api_key_revoke(api_key=issued.api_key)
        status, body, challenge = call_me(issued.raw_key)
        assert status == 401
        assert body["detail"] == "This API key has been revoked."
        assert challenge.startswith("Api-Key")

    def test_a_wrong_secret_with_a_real_prefix_is_refused(self, partner: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        forged = issued.raw_key[:-4] + ("AAAA" if not issued.raw_key.endswith("AAAA") else "BBBB")
        status, body, _challenge = call_me(forged)
        assert status == 401
        assert body["detail"] == "Invalid API key."
        assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at is None

    def test_a_wrong_secret_does_not_reveal_that_the_key_was_revoked(self, partner: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        api_key_revoke(api_key=issued.api_key)
        status, body, _challenge = call_me(issued.raw_key + "x")
        assert (status, body["detail"]) == (401, "Invalid API key.")

    @pytest.mark.parametrize(
        "authorization",
        [
            "Api-Key",
            "Api-Key nxs_abc_def extra",
            "Api-Key not-a-key",
            "Api-Key nxs_0123456789ab",
            "Api-Key nxs__secret",
            "Api-Key xyz_0123456789ab_secret",
            "Api-Key nxs_ffffffffffff_no-such-key",
        ],
    )
    def test_a_malformed_or_unknown_key_is_refused(self, db: None, authorization: str) -> None:
        response = APIClient().get(ME_URL, HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Api-Key")

    def test_the_key_of_a_deactivated_user_is_refused(self, partner: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        partner.is_active = False
        partner.save()
        status, body, _challenge = call_me(issued.raw_key)
        assert status == 401
        assert body["detail"] == "The account or organisation of this API key is disabled."

    def test_the_key_of_a_deactivated_organization_is_refused(self, partner: User, organization: Organization) -> None:
        issued = api_key_create(user=partner, name="broker")
        organization.is_active = False
        organization.save()
        assert call_me(issued.raw_key)[0] == 401

    def test_moving_the_user_to_another_organization_revokes_the_old_keys(
        self, partner: User, organization: Organization, other_organization: Organization
    ) -> None:
        issued = api_key_create(user=partner, name="broker")
        membership_set(user=partner, organization=other_organization, role=Role.PARTNER)
        assert call_me(issued.raw_key)[0] == 401
        # Coming back does not bring the old key back.
        membership_set(user=partner, organization=organization, role=Role.PARTNER)
        assert call_me(issued.raw_key)[0] == 401
        assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None

    def test_anonymous_requests_are_asked_for_an_api_key(self, db: None) -> None:
        response = APIClient().get(ME_URL)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Api-Key realm="api"'

    def test_a_session_still_works_for_the_web_ui(self, investigator: User) -> None:
        client = APIClient()
        client.force_login(investigator)
        response = client.get(ME_URL)
        assert response.status_code == 200
        assert response.json()["authenticated_by"] == "session"


def page_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def issued_key_from(html: str) -> str:
    match = re.search(r'id="issued-api-key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="issued-api-key"', html)
    assert match, "the issued key is not on the page"
    return match.group(1) or match.group(2)


class TestPages:
    def test_issuing_on_the_page_shows_the_key_once(self, org_admin: User, partner: User) -> None:
        client = page_client(org_admin)
        response = client.post(reverse("accounts:api-key-create"), {"name": "Брокер", "user": partner.pk})

        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        raw_key = issued_key_from(response.content.decode())
        api_key = ApiKey.objects.get()
        assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
        assert (api_key.user, api_key.created_by, api_key.name) == (partner, org_admin, "Брокер")
        assert call_me(raw_key)[0] == 200

        listing = client.get(reverse("accounts:api-keys")).content.decode()
        assert api_key.prefix in listing
        assert raw_key.split("_", 2)[2] not in listing
        assert "Брокер" in listing

    def test_the_form_offers_only_active_users_of_the_own_organization(
        self, org_admin: User, partner: User, outsider: User
    ) -> None:
        retired = member(Role.INVESTIGATOR, org_admin.organization, username="retired", is_active=False)
        html = page_client(org_admin).get(reverse("accounts:api-key-create")).content.decode()
        assert f'value="{partner.pk}"' in html
        assert f'value="{outsider.pk}"' not in html
        assert f'value="{retired.pk}"' not in html
        assert '<label for="id_name"' in html
        assert '<label for="id_user"' in html

    def test_a_key_cannot_be_issued_for_a_user_of_another_organization(self, org_admin: User, outsider: User) -> None:
        response = page_client(org_admin).post(reverse("accounts:api-key-create"), {"name": "x", "user": outsider.pk})
        assert response.status_code == 200
        assert response.context["form"].errors["user"]
        assert not ApiKey.objects.exists()

    def test_the_list_shows_only_the_own_organization_keys(
        self, org_admin: User, partner: User, outsider: User
    ) -> None:
        api_key_create(user=partner, name="ours")
        api_key_create(user=outsider, name="theirs")
        html = page_client(org_admin).get(reverse("accounts:api-keys")).content.decode()
        assert "ours" in html
        assert "theirs" not in html
        assert '<th scope="col">' in html

    def test_key_names_are_escaped(self, org_admin: User, partner: User) -> None:
        api_key_create(user=partner, name="<script>alert(1)</script>")
        html = page_client(org_admin).get(reverse("accounts:api-keys")).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    def test_revoking_on_the_page_asks_first_then_revokes(self, org_admin: User, partner: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        client = page_client(org_admin)
        url = reverse("accounts:api-key-revoke", args=[issued.api_key.pk])

        confirmation = client.get(url)
        assert confirmation.status_code == 200
        assert ApiKey.objects.get(pk=issued.api_key.pk).is_active
        assert "Revoke the key" in confirmation.content.decode()

        response = client.post(url, follow=True)
        assert response.redirect_chain[-1][0] == reverse("accounts:api-keys")
        assert "was revoked" in response.content.decode()
        assert not ApiKey.objects.get(pk=issued.api_key.pk).is_active
        assert call_me(issued.raw_key)[0] == 401

    def test_another_organization_admin_cannot_revoke_the_key(self, partner: User, outsider: User) -> None:
        issued = api_key_create(user=partner, name="broker")
        client = page_client(outsider)
        url = reverse("accounts:api-key-revoke", args=[issued.api_key.pk])
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
        assert ApiKey.objects.get(pk=issued.api_key.pk).is_active

    @pytest.mark.parametrize("role", [Role.INVESTIGATOR, Role.SUPERVISOR, Role.PARTNER])
    def test_only_administrators_open_the_api_key_pages(self, role: Role, organization: Organization) -> None:
        issued = api_key_create(user=member(Role.PARTNER, organization), name="broker")
        client = page_client(member(role, organization))
        assert client.get(reverse("accounts:api-keys")).status_code == 403
        assert client.get(reverse("accounts:api-key-create")).status_code == 403
        assert client.post(reverse("accounts:api-key-create"), {"name": "x"}).status_code == 403
        assert client.post(reverse("accounts:api-key-revoke", args=[issued.api_key.pk])).status_code == 403
        assert ApiKey.objects.get(pk=issued.api_key.pk).is_active

    def test_anonymous_visitors_are_sent_to_sign_in(self, db: None) -> None:
        response = Client().get(reverse("accounts:api-keys"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


class TestAdmin:
    def test_another_organization_admin_neither_lists_nor_revokes_the_keys(self, partner: User, outsider: User) -> None:
        issued = api_key_create(user=partner, name="their-broker-key")
        own = api_key_create(user=outsider, name="own-broker-key")
        client = page_client(outsider)

        changelist = client.get(reverse("admin:accounts_apikey_changelist"))
        assert changelist.status_code == 200
        assert "own-broker-key" in changelist.content.decode()
        assert "their-broker-key" not in changelist.content.decode()

        change = client.get(reverse("admin:accounts_apikey_change", args=[issued.api_key.pk]))
        assert change.status_code in {302, 404}
        client.post(
            reverse("admin:accounts_apikey_changelist"),
            {"action": "revoke", "_selected_action": [issued.api_key.pk, own.api_key.pk]},
        )
        assert ApiKey.objects.get(pk=issued.api_key.pk).is_active
        assert not ApiKey.objects.get(pk=own.api_key.pk).is_active

    def test_keys_are_not_added_in_admin_where_the_secret_could_not_be_shown(self, org_admin: User) -> None:
        assert page_client(org_admin).get(reverse("admin:accounts_apikey_add")).status_code == 403
