"""Writes on accounts: organisations, memberships, API keys. Each one audited by django-auditlog."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.accounts.choices import Role
from apps.accounts.models import ApiKey, Membership, Organization, Tier, User
from apps.core.errors import DomainError
from apps.core.notifications import notification_sessions_end
from apps.core.translit import transliterate_uk

API_KEY_PREFIX = "nxs"


def organization_create(*, name: str, slug: str | None = None, tier: Tier | None = None) -> Organization:
    """A new organisation, on ``tier`` or else the default one (``BILLING_DEFAULT_TIER``)."""
    organization = Organization(name=name, slug=slug or slugify(transliterate_uk(name))[:64])
    if tier is not None:
        organization.tier = tier
    organization.full_clean()
    organization.save()
    return organization


@transaction.atomic
def membership_set(*, user: User, organization: Organization, role: str) -> Membership:
    """Put ``user`` in ``organization`` with ``role``; the role's group and the staff flag follow.

    Moving a user to another organisation revokes the API keys they held in the old one: a key belongs to one
    organisation and must not come back to life if the user ever returns.
    """
    if role not in Role.values:
        raise DomainError(_("Unknown role “%(role)s”.") % {"role": role})
    previous = Membership.objects.filter(user=user).values_list("organization_id", "role").first()
    membership, _created = Membership.objects.update_or_create(
        user=user, defaults={"organization": organization, "role": role}
    )
    if previous is not None and previous != (organization.pk, role):
        # Open sockets joined the old organisation's groups; make them reconnect under the new membership.
        notification_sessions_end(user_id=user.pk)
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups.exclude(name=role))
    user.groups.add(Group.objects.get(name=role))
    # Administrators work in Django admin; nobody else needs the staff flag.
    is_staff = user.is_superuser or role == Role.ADMIN
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    for api_key in ApiKey.objects.filter(user=user, revoked_at__isnull=True).exclude(organization=organization):
        api_key_revoke(api_key=api_key)
    # The user object may be reused in this request; its cached membership and permissions are now stale.
    for cached in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cached, None)
    user.membership = membership
    return membership


def hash_api_key(raw_key: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe and keeps each request cheap.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str


@transaction.atomic
def api_key_create(*, user: User, name: str, created_by: User | None = None) -> IssuedApiKey:
    """Issue a key acting as ``user``. The raw key is returned once and never stored."""
    organization = user.organization
    if organization is None or not organization.is_active or not user.is_active:
        raise DomainError(_("An API key needs an active user of an active organisation."))
    prefix = secrets.token_hex(6)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        organization=organization,
        user=user,
        name=name.strip(),
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        created_by=created_by,
    )
    api_key.full_clean()
    api_key.save()
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke ``api_key`` for good; revoking it again changes nothing."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key
