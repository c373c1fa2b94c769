"""Reads on personal data: whether a user holds a live unlock of an object, what it reveals, and who may unlock.

A live unlock is a Redis key (user, object) that expires with the unlock (``PII_UNLOCK_DURATION``): checking it
costs no SQL query, so every page may ask. The disclosure record in PostgreSQL is the audit trail and the source
of the tokens a reveal shows; a key whose record is missing or expired reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.tiers import billing_redis, tier_pii_allowed
from apps.privacy.models import PIIDisclosure
from apps.privacy.vault import vault_reveal

GLOBAL_PERMISSION = "accounts.view_pii"
OBJECT_PERMISSION_CODENAME = "view_pii"
UNLOCK_KEY_PREFIX = "nexus:privacy:unlock"

AnyUser = User | AnonymousUser


def unlock_key(*, user_id: int, target: Model) -> str:
    content_type = ContentType.objects.get_for_model(type(target))
    return f"{UNLOCK_KEY_PREFIX}:{user_id}:{content_type.pk}:{target.pk}"


def _live_disclosure_id(user: AnyUser, target: Model) -> int | None:
    if not user.is_authenticated or not user.is_active or target.pk is None:
        return None
    value = billing_redis().get(unlock_key(user_id=user.pk, target=target))
    return int(value) if value is not None else None


def pii_unlocked(*, user: AnyUser, target: Model) -> bool:
    """Whether ``user`` unlocked ``target``'s personal data and the unlock has not expired yet."""
    return _live_disclosure_id(user, target) is not None


def pii_reveal_map(*, user: AnyUser, target: Model) -> dict[str, str]:
    """``{token: clear value}`` of what ``user``'s live unlock of ``target`` disclosed; empty without one."""
    disclosure_id = _live_disclosure_id(user, target)
    if disclosure_id is None:
        return {}
    disclosure = (
        PIIDisclosure.objects.filter(pk=disclosure_id, user_id=user.pk, expires_at__gt=timezone.now())
        .only("organization_id", "tokens")
        .first()
    )
    if disclosure is None or not disclosure.tokens:
        return {}
    return vault_reveal(organization_id=disclosure.organization_id, tokens=disclosure.tokens)


@cache
def _object_permission_of(model_label: str) -> str | None:
    # Permissions change with migrations only, so one lookup per model and process is enough.
    app_label, model_name = model_label.split(".", 1)
    if Permission.objects.filter(
        content_type__app_label=app_label, content_type__model=model_name, codename=OBJECT_PERMISSION_CODENAME
    ).exists():
        return f"{app_label}.{OBJECT_PERMISSION_CODENAME}"
    return None


def _object_permission(target: Model) -> str | None:
    """``<app>.view_pii`` when the target's model declares it, so guardian can grant it per object (a case)."""
    return _object_permission_of(target._meta.label_lower)


def pii_permission_held(*, user: AnyUser, target: Model) -> bool:
    """``accounts.view_pii`` from a role, or ``<app>.view_pii`` granted on this very object through guardian."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.has_perm(GLOBAL_PERMISSION):
        return True
    permission = _object_permission(target)
    return permission is not None and user.has_perm(permission, target)


@dataclass(frozen=True)
class UnlockState:
    """What the unlock control shows for a user and an object."""

    unlocked: bool
    expires_at: Any
    has_permission: bool
    tier_allows: bool

    @property
    def can_unlock(self) -> bool:
        return self.has_permission and self.tier_allows


def pii_unlock_state(*, user: AnyUser, target: Model) -> UnlockState:
    organization_id = getattr(user, "organization_id", None) if user.is_authenticated else None
    expires_at = None
    disclosure_id = _live_disclosure_id(user, target)
    if disclosure_id is not None:
        expires_at = PIIDisclosure.objects.filter(pk=disclosure_id).values_list("expires_at", flat=True).first()
    return UnlockState(
        unlocked=expires_at is not None and expires_at > timezone.now(),
        expires_at=expires_at,
        has_permission=pii_permission_held(user=user, target=target),
        tier_allows=organization_id is not None and tier_pii_allowed(organization=organization_id),
    )


def pii_disclosure_list(*, user: AnyUser) -> QuerySet[PIIDisclosure]:
    """Disclosures ``user`` may review (an organisation's administrators: all of it) and their own, newest first."""
    if not user.is_authenticated:
        return PIIDisclosure.objects.none()
    reviewable = PIIDisclosure.objects.restrict(user, "view")
    own = PIIDisclosure.objects.filter(user_id=user.pk, organization_id=user.organization_id)
    return (reviewable | own).select_related("content_type").order_by("-created_at", "-id")
