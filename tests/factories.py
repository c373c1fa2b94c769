"""Factories shared by every app's tests."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from apps.accounts.choices import Role
from apps.accounts.models import Organization, Tier, User
from apps.accounts.services import membership_set

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Митниця {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    # Unlimited, so tests of other features never meet the quota; tests of the tiers pick theirs.
    tier = factory.LazyFunction(lambda: Tier.objects.get(slug="enterprise"))


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


def member(role: str = Role.INVESTIGATOR, organization: Organization | None = None, **kwargs: object) -> User:
    """A user in ``organization`` (a new one by default) with ``role`` and its groups."""
    user = UserFactory(**kwargs)
    membership_set(user=user, organization=organization or OrganizationFactory(), role=role)
    return user
