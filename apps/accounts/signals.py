"""Open websockets keep the groups they joined at connect time; these receivers make them reconnect.

Editing a tier, or moving an organisation to another, drops the gate's cached tier snapshots.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.models import Membership, Organization, Tier, User
from apps.accounts.tiers import tier_limits_forget
from apps.core.notifications import notification_sessions_end


@receiver(user_logged_out)
def end_sockets_on_logout(sender: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        notification_sessions_end(user_id=user.pk)


@receiver(post_save, sender=User)
def end_sockets_on_deactivation(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        notification_sessions_end(user_id=instance.pk)


@receiver(post_delete, sender=Membership)
def end_sockets_on_leaving(sender: Any, instance: Membership, **kwargs: Any) -> None:
    notification_sessions_end(user_id=instance.user_id)


@receiver(post_save, sender=Tier)
def forget_tier_snapshots_on_tier_change(sender: Any, instance: Tier, **kwargs: Any) -> None:
    # Now, and again after the commit: a request between the two could cache the old values for a moment.
    tier_limits_forget()
    transaction.on_commit(tier_limits_forget)


@receiver(post_save, sender=Organization)
def forget_tier_snapshot_on_organization_change(sender: Any, instance: Organization, **kwargs: Any) -> None:
    tier_limits_forget(organization_ids=[instance.pk])
    transaction.on_commit(lambda: tier_limits_forget(organization_ids=[instance.pk]))
