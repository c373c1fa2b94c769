"""The permission matrix every partner API endpoint inherits (NetBox's ``utilities/testing/api.py``, for pytest).

A test class names its model, its URL basename and how to make an object of an organisation, and mixes in the
cases it serves::

    class TestCaseAPI(APIViewTestCases.GetObject, APIViewTestCases.ListObjects):
        model = Case
        url_basename = "api:case"
        list_queries = 7

        def create_object(self, organization):
            return CaseFactory(organization=organization)

Every request is authenticated the way a partner's is, with a real API key. The caller is a member of
``organization`` holding no permission at all; each test grants exactly the model permission it needs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.services import api_key_create
from tests.factories import UserFactory, member


def api_key_client(user: User) -> APIClient:
    """A client that sends a freshly issued API key acting as ``user``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(user=user, name='test key').raw_key}")
    return client


def grant(user: User, model: type[Model], action: str) -> None:
    """Give ``user`` the model permission ``<action>_<model>`` directly, outside any role."""
    content_type = ContentType.objects.get_for_model(model)
    user.user_permissions.add(
        Permission.objects.get(content_type=content_type, codename=f"{action}_{model._meta.model_name}")
    )


def assert_asks_for_api_key(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Api-Key")


class APITestCase:
    model: ClassVar[type[Model]]
    url_basename: ClassVar[str]

    def create_object(self, organization: Organization) -> Model:
        raise NotImplementedError

    @pytest.fixture
    def api_user(self, organization: Organization) -> User:
        user = member(Role.PARTNER, organization)
        user.groups.clear()
        return user

    @pytest.fixture
    def api_client(self, api_user: User) -> APIClient:
        return api_key_client(api_user)

    @pytest.fixture
    def own_object(self, organization: Organization) -> Model:
        return self.create_object(organization)

    @pytest.fixture
    def other_object(self, other_organization: Organization) -> Model:
        return self.create_object(other_organization)

    def list_url(self) -> str:
        return reverse(f"{self.url_basename}-list")

    def detail_url(self, obj: Model) -> str:
        return reverse(f"{self.url_basename}-detail", kwargs={"pk": obj.pk})


class APIViewTestCases:
    class GetObject(APITestCase):
        def test_get_object_anonymous(self, own_object: Model) -> None:
            assert_asks_for_api_key(APIClient().get(self.detail_url(own_object)))

        def test_get_object_without_permission(self, api_client: APIClient, own_object: Model) -> None:
            response = api_client.get(self.detail_url(own_object))
            assert response.status_code == 403, response.content

        def test_get_object(self, api_client: APIClient, api_user: User, own_object: Model) -> None:
            grant(api_user, self.model, "view")
            response = api_client.get(self.detail_url(own_object))
            assert response.status_code == 200, response.content
            assert response.data["id"] == own_object.pk

        def test_get_object_of_other_organization(
            self, api_client: APIClient, api_user: User, own_object: Model, other_object: Model
        ) -> None:
            grant(api_user, self.model, "view")
            assert api_client.get(self.detail_url(other_object)).status_code == 404

    class ListObjects(APITestCase):
        # The queries of one list request, API key authentication included; pinned so an N+1 shows up.
        list_queries: ClassVar[int]

        def test_list_objects_anonymous(self, db: None) -> None:
            assert_asks_for_api_key(APIClient().get(self.list_url()))

        def test_list_objects_without_membership(self, db: None) -> None:
            client = APIClient()
            client.force_login(UserFactory())
            response = client.get(self.list_url())
            assert response.status_code == 403
            assert "organisation" in response.data["detail"]

        def test_list_objects_without_permission(self, api_client: APIClient, own_object: Model) -> None:
            response = api_client.get(self.list_url())
            assert response.status_code == 403, response.content

        def test_list_objects(
            self,
            api_client: APIClient,
            api_user: User,
            organization: Organization,
            own_object: Model,
            other_object: Model,
            django_assert_num_queries: Any,
        ) -> None:
            grant(api_user, self.model, "view")
            with django_assert_num_queries(self.list_queries):
                response = api_client.get(self.list_url())
            assert response.status_code == 200, response.content
            listed = {row["id"] for row in response.data["results"]}
            organization_field = getattr(self.model, "organization_field", "organization")
            expected = set(
                self.model._default_manager.filter(**{organization_field: organization.pk}).values_list("pk", flat=True)
            )
            assert listed == expected
            assert own_object.pk in listed
            assert other_object.pk not in listed
