"""restrict(): the one read entry point — organisation first, then the model or the object permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from guardian.shortcuts import assign_perm

from apps.accounts.choices import Role
from apps.accounts.models import Membership, Organization, User
from apps.core.querysets import permission_name
from tests.api_testing import grant
from tests.factories import UserFactory, member


def visible(user: User | AnonymousUser, action: str = "view") -> set[int]:
    return set(Membership.objects.restrict(user, action).values_list("pk", flat=True))


@pytest.fixture
def memberships(investigator: User, supervisor: User, outsider: User) -> dict[str, Membership]:
    return {user.username: user.membership for user in (investigator, supervisor, outsider)}


def test_anonymous_sees_nothing(memberships: dict[str, Membership]) -> None:
    assert visible(AnonymousUser()) == set()


def test_an_inactive_user_sees_nothing(investigator: User, memberships: dict[str, Membership]) -> None:
    investigator.is_active = False
    investigator.save()
    assert visible(User.objects.get(pk=investigator.pk)) == set()


def test_a_user_without_an_organization_sees_nothing(memberships: dict[str, Membership]) -> None:
    loner = UserFactory()
    grant(loner, Membership, "view")
    assert visible(User.objects.get(pk=loner.pk)) == set()


def test_the_model_permission_opens_the_own_organization_rows_only(
    investigator: User, memberships: dict[str, Membership]
) -> None:
    assert investigator.has_perm("accounts.view_membership")
    assert visible(investigator) == {memberships["investigator"].pk, memberships["supervisor"].pk}


def test_without_the_model_permission_nothing_is_visible(
    organization: Organization, memberships: dict[str, Membership]
) -> None:
    partner = member(Role.PARTNER, organization)
    assert not partner.has_perm("accounts.view_membership")
    assert visible(partner) == set()


def test_each_action_needs_its_own_permission(investigator: User, org_admin: User) -> None:
    # Investigators view memberships; only administrators change them.
    assert visible(investigator, "change") == set()
    assert visible(org_admin, "change") == visible(org_admin, "view") != set()


def test_another_organization_rows_stay_out_even_for_its_administrator(
    outsider: User, memberships: dict[str, Membership]
) -> None:
    assert visible(outsider) == {memberships["outsider"].pk}


def test_a_superuser_sees_every_organization(memberships: dict[str, Membership]) -> None:
    root = UserFactory(is_superuser=True)
    assert visible(root) == {m.pk for m in memberships.values()}


def test_an_unknown_action_is_a_programming_error(investigator: User) -> None:
    with pytest.raises(ValueError, match="unknown action"):
        Membership.objects.restrict(investigator, "admire")


class TestObjectPermissions:
    """Models with ``object_permissions = True``: guardian grants per object, a role grant reaches them all."""

    @pytest.fixture(autouse=True)
    def _membership_with_object_permissions(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(Membership, "object_permissions", True, raising=False)

    @pytest.fixture
    def partner(self, organization: Organization) -> User:
        return member(Role.PARTNER, organization, username="object-partner")

    def test_only_the_granted_objects_are_visible(self, partner: User, memberships: dict[str, Membership]) -> None:
        assert visible(partner) == set()
        assign_perm(permission_name(Membership, "view"), partner, memberships["supervisor"])
        assert visible(User.objects.get(pk=partner.pk)) == {memberships["supervisor"].pk}

    def test_a_grant_on_another_organization_object_does_not_cross_over(
        self, partner: User, memberships: dict[str, Membership]
    ) -> None:
        assign_perm(permission_name(Membership, "view"), partner, memberships["outsider"])
        assert visible(User.objects.get(pk=partner.pk)) == set()

    def test_a_grant_for_another_action_does_not_count(self, partner: User, memberships: dict[str, Membership]) -> None:
        assign_perm(permission_name(Membership, "change"), partner, memberships["supervisor"])
        assert visible(User.objects.get(pk=partner.pk)) == set()
        assert visible(User.objects.get(pk=partner.pk), "change") == {memberships["supervisor"].pk}

    def test_the_model_permission_still_opens_the_whole_organization(
        self, investigator: User, memberships: dict[str, Membership]
    ) -> None:
        assert visible(investigator) == {memberships["investigator"].pk, memberships["supervisor"].pk}
