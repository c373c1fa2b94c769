"""Reads on accounts, always through ``restrict()``."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import ApiKey, User


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.restrict(user, "view").select_related("user", "created_by").order_by("-created_at")


def organization_users(*, user: User) -> QuerySet[User]:
    return User.objects.restrict(user, "view").filter(is_active=True).order_by("username")
