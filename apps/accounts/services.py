"""Writes on accounts: organisations, memberships, API keys. Each one audited by django-auditlog."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.choices import Role
from apps.accounts.models import ApiKey, Membership, Organization, User
from apps.core.errors import DomainError

API_KEY_PREFIX = "nxs"


def organization_create(*, name: str, slug: str | None = None) -> Organization:
    organization = Organization(name=name, slug=slug or slugify(name)[:64])
    organization.full_clean()
    organization.save()
    return organization


@transaction.atomic
def membership_set(*, user: User, organization: Organization, role: str) -> Membership:
    """Put ``user`` in ``organization`` with ``role``; the user's role groups follow."""
    if role not in Role.values:
        raise DomainError(f"unknown role {role!r}")
    membership, _created = Membership.objects.update_or_create(
        user=user, defaults={"organization": organization, "role": role}
    )
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups.exclude(name=role))
    user.groups.add(Group.objects.get(name=role))
    # Administrators work in Django admin; nobody else needs the staff flag.
    is_staff = user.is_superuser or role == Role.ADMIN
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    return membership


def hash_api_key(raw_key: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe and keeps each request cheap.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str


def api_key_create(*, user: User, name: str, created_by: User | None = None) -> IssuedApiKey:
    """Issue a key acting as ``user``. The raw key is returned once and never stored."""
    organization = user.organization
    if organization is None:
        raise DomainError("an API key needs a user who belongs to an organisation")
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        organization=organization,
        user=user,
        name=name,
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        created_by=created_by,
    )
    api_key.full_clean()
    api_key.save()
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key
