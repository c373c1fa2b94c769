"""Open websockets keep the groups they joined at connect time; these receivers make them reconnect."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.models import Membership, User
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
