"""Errors raised by services reach API clients as 400s with their message, never as 500s."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from apps.accounts.models import Organization, User
from apps.accounts.services import api_key_create, organization_create
from apps.core.api.viewsets import RestrictedGenericViewSet
from apps.core.errors import DomainError
from tests.api_testing import grant


class OrganizationWriteViewSet(RestrictedGenericViewSet):
    queryset = Organization.objects.all()

    def create(self, request: Request) -> Response:
        if request.data.get("refuse"):
            raise DomainError("Організацію не створено: так вирішило правило.")
        organization = organization_create(name=request.data["name"], slug=request.data.get("slug"))
        return Response({"id": organization.pk}, status=201)


def post(user: User, data: dict[str, object]) -> Response:
    request = APIRequestFactory().post(
        "/api/v1/organizations/",
        data,
        format="json",
        HTTP_AUTHORIZATION=f"Api-Key {api_key_create(user=user, name='k').raw_key}",
    )
    return OrganizationWriteViewSet.as_view({"post": "create"})(request)


def test_a_domain_error_is_a_400_with_its_message(org_admin: User) -> None:
    grant(org_admin, Organization, "add")
    response = post(org_admin, {"name": "x", "refuse": True})
    assert response.status_code == 400
    assert response.data == {"detail": "Організацію не створено: так вирішило правило."}


def test_a_model_validation_error_is_a_400_per_field(org_admin: User, organization: Organization) -> None:
    grant(org_admin, Organization, "add")
    response = post(org_admin, {"name": "Інша митниця", "slug": organization.slug})
    assert response.status_code == 400
    assert list(response.data) == ["slug"]
    assert Organization.objects.filter(name="Інша митниця").count() == 0


def test_the_add_permission_is_required_for_a_post(org_admin: User) -> None:
    response = post(org_admin, {"name": "Нова митниця"})
    assert response.status_code == 403
    assert "add" in str(response.data["detail"])
    assert not Organization.objects.filter(name="Нова митниця").exists()
