"""Writes on personal data: the audited unlock and the retention purge."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.tiers import Surface, TierRefused, billing_redis, quota_consume, tier_limits
from apps.core.errors import DomainError
from apps.privacy.models import PIIDisclosure
from apps.privacy.selectors import pii_permission_held, unlock_key
from apps.privacy.targets import pii_target_tokens

REASON_MIN_LENGTH = 10
REASON_MAX_LENGTH = 1000


class PIIUnlockRefused(DomainError):
    """The user may not unlock this object's personal data (no permission, or the object is out of reach)."""


def _in_reach(*, user: User, target: models.Model) -> bool:
    """Whether ``user`` may see ``target`` at all: through its ``restrict()``, organisation and permissions."""
    manager = type(target)._default_manager
    if not hasattr(manager, "restrict"):
        return False
    return bool(manager.restrict(user, "view").filter(pk=target.pk).exists())


def object_label(target: models.Model) -> str:
    """ "Entity №12": the kind and number, never the object's own text, which may be personal data."""
    return f"{capfirst(str(target._meta.verbose_name))} №{target.pk}"


@transaction.atomic
def pii_unlock(*, user: User, target: models.Model, reason: str) -> PIIDisclosure:
    """Disclose ``target``'s personal data to ``user`` for ``PII_UNLOCK_DURATION``, for the stated reason.

    Needs the permission (``pii_permission_held``), a tier that allows personal data and a reason; writes the
    disclosure record (audited by django-auditlog) and opens the live unlock.
    """
    reason = " ".join(reason.split())
    organization = user.organization
    if organization is None or not organization.is_active or not user.is_active:
        raise PIIUnlockRefused(_("Only an active member of an active organisation can unlock personal data."))
    if not pii_permission_held(user=user, target=target):
        raise PIIUnlockRefused(
            _("You do not hold the permission to view personal data. Ask your organisation's administrator.")
        )
    limits = tier_limits(organization=organization)
    if not limits.pii_allowed:
        raise TierRefused(
            _("The %(tier)s plan does not include personal data. An administrator can upgrade the plan.")
            % {"tier": limits.name}
        )
    if not _in_reach(user=user, target=target):
        raise PIIUnlockRefused(_("This object cannot be unlocked."))
    if len(reason) < REASON_MIN_LENGTH:
        raise DomainError(
            _("State the reason for seeing the personal data in at least %(count)d characters.")
            % {"count": REASON_MIN_LENGTH}
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise DomainError(_("The reason may be at most %(count)d characters.") % {"count": REASON_MAX_LENGTH})
    fields = pii_target_tokens(target=target, user=user)
    now = timezone.now()
    duration: timedelta = settings.PII_UNLOCK_DURATION
    disclosure = PIIDisclosure(
        organization=organization,
        user=user,
        username=user.get_username(),
        created_at=now,
        expires_at=now + duration,
        reason=reason,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=str(target.pk),
        object_label=object_label(target),
        fields=sorted(fields),
        tokens=sorted({token for tokens in fields.values() for token in tokens}),
    )
    disclosure.full_clean()
    disclosure.save()
    # Set at once rather than on commit: a key whose record was rolled back finds no record and reveals nothing.
    billing_redis().set(
        unlock_key(user_id=user.pk, target=target), disclosure.pk, px=int(duration.total_seconds() * 1000)
    )
    quota_consume(organization=organization, surface=Surface.PII_UNLOCK)
    return disclosure


def pii_unlock_end(*, user: User, target: models.Model) -> None:
    """Mask ``target`` again for ``user`` before the unlock runs out; the disclosure record stays."""
    billing_redis().delete(unlock_key(user_id=user.pk, target=target))


def pii_disclosure_purge(*, retention_days: int | None = None) -> int:
    """Delete disclosure records older than the retention (``PII_DISCLOSURE_RETENTION_DAYS``); the number deleted.

    The only way a record leaves the database: a queryset delete, which the model's own ``delete()`` refusal does
    not stand in the way of.
    """
    days = settings.PII_DISCLOSURE_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _per_model = PIIDisclosure.objects.filter(created_at__lt=cutoff).delete()
    return deleted
