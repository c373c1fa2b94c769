"""Reads on accounts, always through ``restrict()``."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from apps.accounts.models import ApiKey, User


def api_key_list(*, user: User | AnonymousUser, action: str = "view") -> QuerySet[ApiKey]:
    """The API keys ``user`` may ``action`` (view, change), newest first."""
    return ApiKey.objects.restrict(user, action).select_related("user", "created_by").order_by("-created_at")


def api_key_user_choices(*, user: User | AnonymousUser) -> QuerySet[User]:
    """Whom a key issued by ``user`` may act as: active users of an active organisation ``user`` can see."""
    return (
        User.objects.restrict(user, "view")
        .filter(is_active=True, membership__organization__is_active=True)
        .select_related("membership__organization")
        .order_by("username")
    )
