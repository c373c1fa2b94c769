from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.tiers import billing_redis
from nexus.celery import app as celery_app
from tests.factories import OrganizationFactory, member


@pytest.fixture(autouse=True)
def billing_counters_reset() -> None:
    """Quota counters, tier snapshots and live PII unlocks (one Redis database) start empty in every test."""
    billing_redis().flushdb()


@pytest.fixture
def organization(db: None) -> Organization:
    return OrganizationFactory(name="Київська митниця", slug="kyiv-customs")


@pytest.fixture
def other_organization(db: None) -> Organization:
    return OrganizationFactory(name="Одеська митниця", slug="odesa-customs")


@pytest.fixture
def investigator(organization: Organization) -> User:
    return member(Role.INVESTIGATOR, organization, username="investigator")


@pytest.fixture
def supervisor(organization: Organization) -> User:
    return member(Role.SUPERVISOR, organization, username="supervisor")


@pytest.fixture
def org_admin(organization: Organization) -> User:
    return member(Role.ADMIN, organization, username="orgadmin")


@pytest.fixture
def partner(organization: Organization) -> User:
    return member(Role.PARTNER, organization, username="partner")


@pytest.fixture
def outsider(other_organization: Organization) -> User:
    return member(Role.ADMIN, other_organization, username="outsider")


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks run in the caller's process, as a worker would run them, with their results."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False
        celery_app.conf.task_eager_propagates = False
