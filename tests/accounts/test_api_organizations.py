"""The organisations endpoint through the shared permission matrix, and what every role sees of it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.services import organization_create
from tests.api_testing import APIViewTestCases, api_key_client
from tests.factories import member


class TestOrganizationAPI(APIViewTestCases.GetObject, APIViewTestCases.ListObjects):
    model = Organization
    url_basename = "api:organization"
    # key lookup, last_used_at, user permissions, group permissions, count, page
    list_queries = 6

    def create_object(self, organization: Organization) -> Organization:
        return organization


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_only_its_own_organization(
    role: Role, organization: Organization, other_organization: Organization
) -> None:
    client = api_key_client(member(role, organization))
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 200
    assert [row["slug"] for row in response.data["results"]] == [organization.slug]
    assert client.get(f"/api/v1/organizations/{other_organization.pk}/").status_code == 404


def test_session_of_an_organization_member_works_too(investigator: User, organization: Organization) -> None:
    client = APIClient()
    client.force_login(investigator)
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 200
    assert [row["id"] for row in response.data["results"]] == [organization.pk]


def test_inactive_organization_locks_its_members_out(investigator: User, organization: Organization) -> None:
    client = APIClient()
    client.force_login(investigator)
    organization.is_active = False
    organization.save()
    assert client.get("/api/v1/organizations/").status_code == 403


def test_writes_are_not_offered(org_admin: User, organization: Organization) -> None:
    client = api_key_client(org_admin)
    assert client.post("/api/v1/organizations/", {"name": "Нова", "slug": "nova"}).status_code == 405
    assert client.delete(f"/api/v1/organizations/{organization.pk}/").status_code == 405
    assert Organization.objects.filter(slug="nova").count() == 0


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Київська митниця", "kyivska-mytnytsia"),
        ("Знам'янська митниця", "znamianska-mytnytsia"),
        ("Ягодинська митниця", "yahodynska-mytnytsia"),
        ("Згурівське управління ДПС", "zghurivske-upravlinnia-dps"),
    ],
)
def test_a_cyrillic_name_gets_a_transliterated_slug(db: None, name: str, slug: str) -> None:
    assert organization_create(name=name).slug == slug
