"""Permission-aware querysets: the one entry point every surface reads through.

Pages, HTMX fragments, the API and websocket consumers all start from
``Model.objects.restrict(user, "view")``. It narrows a queryset to the user's
organisation and, for models that carry object permissions (django-guardian),
to the objects the user holds the permission on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, cast

from django.db import models
from guardian.shortcuts import get_objects_for_user

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User

ACTIONS = ("view", "add", "change", "delete")


def permission_name(model: type[models.Model], action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class RestrictedQuerySet(models.QuerySet[Any]):
    def restrict(self, user: User | AnonymousUser, action: str = "view") -> Self:
        """The objects ``user`` may ``action``: organisation first, then model or object permission."""
        model = self.model
        perm = permission_name(model, action)
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        organization_field = getattr(model, "organization_field", None)
        queryset = self
        if organization_field is not None:
            organization_id = user.organization_id
            if organization_id is None:
                return self.none()
            queryset = queryset.filter(**{organization_field: organization_id})
        if getattr(model, "object_permissions", False):
            # Guardian answers per object; a model-level grant (a role) reaches every object of the organisation.
            if user.has_perm(perm):
                return queryset
            return cast(Self, get_objects_for_user(user, perm, klass=queryset, accept_global_perms=False))
        if not user.has_perm(perm):
            return self.none()
        return queryset


class RestrictedManager(models.Manager.from_queryset(RestrictedQuerySet)):  # type: ignore[misc]
    pass
