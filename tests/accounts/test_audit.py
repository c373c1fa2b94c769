"""django-auditlog on accounts: who changed an organisation, a membership or an API key, and never a key's hash."""

from __future__ import annotations

import json

from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from apps.accounts.choices import Role
from apps.accounts.models import ApiKey, Membership, Organization, User
from apps.accounts.services import api_key_create, organization_create
from apps.core.api.viewsets import RestrictedGenericViewSet
from tests.api_testing import grant
from tests.factories import UserFactory


def entries(obj: Model) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)).order_by(
            "timestamp", "pk"
        )
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def everything_logged() -> str:
    return json.dumps(
        list(LogEntry.objects.values("changes", "changes_text", "serialized_data", "additional_data", "object_repr")),
        default=str,
    )


def test_issuing_and_revoking_a_key_on_the_page_is_logged_without_its_hash(org_admin: User, partner: User) -> None:
    client = signed_in(org_admin)
    client.post(reverse("accounts:api-key-create"), {"name": "broker", "user": partner.pk})
    api_key = ApiKey.objects.get()
    client.post(reverse("accounts:api-key-revoke", args=[api_key.pk]))

    created, revoked = entries(api_key)
    assert (created.action, created.actor) == (LogEntry.Action.CREATE, org_admin)
    assert (revoked.action, revoked.actor) == (LogEntry.Action.UPDATE, org_admin)
    assert "revoked_at" in revoked.changes_dict
    assert "key_hash" not in created.changes_dict
    assert api_key.key_hash not in everything_logged()
    assert "key_hash" not in everything_logged()


def test_creating_and_changing_an_organization_in_admin_is_logged(db: None) -> None:
    root = UserFactory(is_superuser=True, is_staff=True)
    client = signed_in(root)
    client.post(
        reverse("admin:accounts_organization_add"), {"name": "Львівська митниця", "slug": "lviv", "is_active": "on"}
    )
    organization = Organization.objects.get(slug="lviv")
    client.post(
        reverse("admin:accounts_organization_change", args=[organization.pk]),
        {"name": "Львівська митниця", "slug": "lviv-customs", "is_active": "on"},
    )

    created, changed = entries(organization)
    assert (created.action, created.actor) == (LogEntry.Action.CREATE, root)
    assert (changed.action, changed.actor) == (LogEntry.Action.UPDATE, root)
    assert changed.changes_dict["slug"] == ["lviv", "lviv-customs"]


def test_changing_a_membership_in_admin_is_logged(investigator: User, organization: Organization) -> None:
    root = UserFactory(is_superuser=True, is_staff=True)
    membership = Membership.objects.get(user=investigator)
    response = signed_in(root).post(
        reverse("admin:accounts_membership_change", args=[membership.pk]),
        {"user": investigator.pk, "organization": organization.pk, "role": Role.SUPERVISOR},
    )
    assert response.status_code == 302

    changed = entries(membership)[-1]
    assert (changed.action, changed.actor) == (LogEntry.Action.UPDATE, root)
    assert changed.changes_dict["role"] == [Role.INVESTIGATOR, Role.SUPERVISOR]


class OrganizationCreateViewSet(RestrictedGenericViewSet):
    """A write endpoint shaped like the ones later apps add, to see whom their audit entries name."""

    queryset = Organization.objects.all()

    def create(self, request: Request) -> Response:
        organization = organization_create(name=request.data["name"])
        return Response({"id": organization.pk}, status=201)


def test_api_writes_name_the_api_key_user_as_the_actor(partner: User) -> None:
    grant(partner, Organization, "add")
    raw_key = api_key_create(user=partner, name="broker").raw_key
    request = APIRequestFactory().post(
        "/api/v1/organizations/", {"name": "Партнерська"}, format="json", HTTP_AUTHORIZATION=f"Api-Key {raw_key}"
    )
    # The middleware stack of a real request: the actor is unknown to it, DRF authenticates later.
    response = AuditlogMiddleware(OrganizationCreateViewSet.as_view({"post": "create"}))(request)

    assert response.status_code == 201
    (created,) = entries(Organization.objects.get(pk=response.data["id"]))
    assert (created.action, created.actor) == (LogEntry.Action.CREATE, partner)
