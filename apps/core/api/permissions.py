from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.core.querysets import permission_name

# The restrict() action each HTTP method needs, as NetBox maps them.
ACTION_BY_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}

DENIED_MESSAGES = {
    "view": _("You do not have permission to view %(objects)s."),
    "add": _("You do not have permission to add %(objects)s."),
    "change": _("You do not have permission to change %(objects)s."),
    "delete": _("You do not have permission to delete %(objects)s."),
}


class OrganizationMemberPermission(BasePermission):
    """Every API caller is an authenticated, active member of an active organisation."""

    message: str | Promise = _("You must belong to an active organisation to use the API.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_active:
            return False
        organization = user.organization
        return organization is not None and organization.is_active


class OrganizationModelPermission(OrganizationMemberPermission):
    """A member who also holds the model permission the HTTP method needs (``view_case`` for GET, …).

    Models with object permissions (``object_permissions = True``) are let through: there ``restrict()`` narrows
    the queryset to the objects the caller was granted, so a caller without any sees an empty list, not a 403.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if not hasattr(view, (request.method or "").lower()):
            return True  # DRF answers 405 Method Not Allowed, which says more than a 403.
        model = view.queryset.model
        if getattr(model, "object_permissions", False):
            return True
        action = ACTION_BY_METHOD.get(request.method or "")
        if action is None:
            return False
        if not request.user.has_perm(permission_name(model, action)):
            self.message = DENIED_MESSAGES[action] % {"objects": model._meta.verbose_name_plural}
            return False
        return True
