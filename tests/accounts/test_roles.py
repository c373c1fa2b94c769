"""Roles → groups → permissions, and membership_set keeping a user's groups and staff flag in step."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured

from apps.accounts import roles
from apps.accounts.choices import Role
from apps.accounts.models import Membership, Organization, User
from apps.accounts.roles import ROLE_PERMISSIONS, sync_role_groups
from apps.accounts.services import membership_set
from apps.core.errors import DomainError
from tests.factories import UserFactory


def group_permissions(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_group_carries_exactly_its_permissions(db: None, role: Role) -> None:
    assert group_permissions(role) == ROLE_PERMISSIONS[role]


@pytest.mark.parametrize(
    ("role", "view_pii", "export_pii"),
    [
        (Role.INVESTIGATOR, False, False),
        (Role.SUPERVISOR, True, False),
        (Role.ADMIN, True, True),
        (Role.PARTNER, False, False),
    ],
)
def test_personal_data_permissions_by_role(
    organization: Organization, role: Role, view_pii: bool, export_pii: bool
) -> None:
    user = UserFactory()
    membership_set(user=user, organization=organization, role=role)
    user = User.objects.get(pk=user.pk)
    assert user.has_perm("accounts.view_pii") is view_pii
    assert user.has_perm("accounts.export_pii") is export_pii


def test_sync_puts_a_tampered_group_back(db: None) -> None:
    group = Group.objects.get(name=Role.PARTNER)
    group.permissions.add(Permission.objects.get(codename="delete_organization"))
    sync_role_groups()
    assert group_permissions(Role.PARTNER) == ROLE_PERMISSIONS[Role.PARTNER]


def test_sync_creates_permissions_that_do_not_exist_yet(db: None) -> None:
    # As on a fresh database, where apps after accounts in INSTALLED_APPS get their permissions later.
    Permission.objects.filter(codename="view_healthcheck").delete()
    sync_role_groups()
    assert "core.view_healthcheck" in group_permissions(Role.ADMIN)


def test_a_role_without_permissions_gets_none_not_all(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.PARTNER, set())
    sync_role_groups()
    assert group_permissions(Role.PARTNER) == set()


def test_an_unknown_permission_name_fails_loudly(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.PARTNER, {"accounts.view_organization", "accounts.fly_to_the_moon"})
    with pytest.raises(ImproperlyConfigured, match="fly_to_the_moon"):
        roles.role_permissions(Role.PARTNER)


class TestMembershipSet:
    def test_moves_the_user_between_role_groups(self, organization: Organization) -> None:
        user = UserFactory()
        unrelated = Group.objects.create(name="night-shift")
        user.groups.add(unrelated)

        membership_set(user=user, organization=organization, role=Role.INVESTIGATOR)
        assert set(user.groups.values_list("name", flat=True)) == {Role.INVESTIGATOR, "night-shift"}
        assert not user.has_perm("accounts.view_pii")

        membership_set(user=user, organization=organization, role=Role.SUPERVISOR)
        assert set(user.groups.values_list("name", flat=True)) == {Role.SUPERVISOR, "night-shift"}
        # The same user object answers with the new role at once, not from a stale permission cache.
        assert user.has_perm("accounts.view_pii")
        assert user.role == Role.SUPERVISOR
        assert Membership.objects.get(user=user).role == Role.SUPERVISOR

    def test_only_administrators_are_staff(self, organization: Organization) -> None:
        user = UserFactory()
        membership_set(user=user, organization=organization, role=Role.ADMIN)
        assert User.objects.get(pk=user.pk).is_staff
        for role in (Role.INVESTIGATOR, Role.SUPERVISOR, Role.PARTNER):
            membership_set(user=user, organization=organization, role=role)
            assert not User.objects.get(pk=user.pk).is_staff, role

    def test_a_superuser_stays_staff_in_any_role(self, organization: Organization) -> None:
        user = UserFactory(is_superuser=True, is_staff=True)
        membership_set(user=user, organization=organization, role=Role.INVESTIGATOR)
        assert User.objects.get(pk=user.pk).is_staff

    def test_moves_the_user_to_another_organization(
        self, investigator: User, organization: Organization, other_organization: Organization
    ) -> None:
        membership_set(user=investigator, organization=other_organization, role=Role.INVESTIGATOR)
        assert Membership.objects.filter(user=investigator).count() == 1
        assert User.objects.get(pk=investigator.pk).organization == other_organization

    def test_an_unknown_role_changes_nothing(self, investigator: User, organization: Organization) -> None:
        with pytest.raises(DomainError):
            membership_set(user=investigator, organization=organization, role="overlord")
        assert set(investigator.groups.values_list("name", flat=True)) == {Role.INVESTIGATOR}
        assert Membership.objects.get(user=investigator).role == Role.INVESTIGATOR
