"""Django admin: an organisation's administrator sees only their organisation and cannot grant privileges."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.choices import Role
from apps.accounts.models import Membership, Organization, User
from apps.accounts.services import api_key_create
from tests.factories import DEFAULT_PASSWORD, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org_admin: User) -> Client:
    client = Client()
    assert client.login(username=org_admin.username, password=DEFAULT_PASSWORD)
    return client


def test_admin_role_reaches_admin_but_investigator_does_not(org_admin: User, investigator: User) -> None:
    client = Client()
    client.force_login(investigator)
    assert client.get(reverse("admin:index")).status_code == 302

    client.force_login(org_admin)
    assert client.get(reverse("admin:index")).status_code == 200


def test_user_list_shows_only_own_organisation(admin_client: Client, investigator: User, outsider: User) -> None:
    page = admin_client.get(reverse("admin:accounts_user_changelist")).content.decode()

    assert investigator.username in page
    assert outsider.username not in page


def test_other_organisations_objects_are_not_found(
    admin_client: Client, outsider: User, other_organization: Organization
) -> None:
    assert admin_client.get(reverse("admin:accounts_user_change", args=[outsider.pk])).status_code == 302
    assert (
        admin_client.get(reverse("admin:accounts_organization_change", args=[other_organization.pk])).status_code == 302
    )
    organizations = admin_client.get(reverse("admin:accounts_organization_changelist")).content.decode()
    assert other_organization.name not in organizations


def test_api_key_list_is_scoped(admin_client: Client, partner: User, other_organization: Organization) -> None:
    foreign_partner = member(Role.PARTNER, other_organization, username="foreignpartner")
    own = api_key_create(user=partner, name="own key").api_key
    foreign = api_key_create(user=foreign_partner, name="foreign key").api_key

    page = admin_client.get(reverse("admin:accounts_apikey_changelist")).content.decode()

    assert own.prefix in page
    assert foreign.prefix not in page
    assert own.key_hash not in page


def test_organisation_admin_cannot_grant_superuser_or_groups(admin_client: Client, investigator: User) -> None:
    url = reverse("admin:accounts_user_change", args=[investigator.pk])
    form = admin_client.get(url).content.decode()
    assert 'name="is_superuser"' not in form
    assert 'name="groups"' not in form
    assert 'name="user_permissions"' not in form

    response = admin_client.post(
        url,
        {
            "username": investigator.username,
            "email": investigator.email,
            "is_active": "on",
            "is_superuser": "on",
            "is_staff": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "membership-TOTAL_FORMS": "1",
            "membership-INITIAL_FORMS": "1",
            "membership-MIN_NUM_FORMS": "0",
            "membership-MAX_NUM_FORMS": "1",
            "membership-0-id": investigator.membership.pk,
            "membership-0-user": investigator.pk,
            "membership-0-organization": investigator.organization_id,
            "membership-0-role": Role.INVESTIGATOR,
            "first_name": "Олена",
        },
    )
    assert response.status_code == 302, "the form was accepted"
    investigator.refresh_from_db()
    assert investigator.first_name == "Олена"
    assert not investigator.is_superuser
    assert not investigator.is_staff


def test_membership_choices_offer_only_own_organisation(
    admin_client: Client, organization: Organization, other_organization: Organization
) -> None:
    form = admin_client.get(reverse("admin:accounts_membership_add")).content.decode()

    assert organization.name in form
    assert other_organization.name not in form


def test_changing_role_in_admin_moves_groups(admin_client: Client, investigator: User) -> None:
    membership = investigator.membership
    response = admin_client.post(
        reverse("admin:accounts_membership_change", args=[membership.pk]),
        {"user": investigator.pk, "organization": membership.organization_id, "role": Role.SUPERVISOR},
    )

    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == Role.SUPERVISOR
    assert list(investigator.groups.values_list("name", flat=True)) == [Role.SUPERVISOR]


def test_superuser_sees_every_organisation(organization: Organization, other_organization: Organization) -> None:
    root = User.objects.create_superuser(username="root", password=DEFAULT_PASSWORD)
    client = Client()
    client.force_login(root)

    page = client.get(reverse("admin:accounts_organization_changelist")).content.decode()

    assert organization.name in page
    assert other_organization.name in page
