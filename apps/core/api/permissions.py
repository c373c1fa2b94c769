from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class OrganizationMemberPermission(BasePermission):
    """Every API caller is an authenticated, active member of an active organisation."""

    message = _("You must belong to an active organisation to use the API.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_active:
            return False
        organization = user.organization
        return organization is not None and organization.is_active
