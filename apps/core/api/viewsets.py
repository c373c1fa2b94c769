"""The base of every partner API viewset: reads and writes go through ``restrict()``, by HTTP method.

As NetBox's ``NetBoxModelViewSet``: GET restricts to what the caller may view, PUT/PATCH to what they may
change, DELETE to what they may delete, all within their organisation. Another organisation's object is a 404.
"""

from __future__ import annotations

from typing import Any

from auditlog.context import auditlog_value
from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.request import Request

from apps.core.api.permissions import ACTION_BY_METHOD, OrganizationModelPermission


def audit_actor_bind(request: Request) -> None:
    """Name the API caller as the actor of the audit entries this request writes.

    AuditlogMiddleware picks the actor before DRF authenticates an API key or a bearer token, so for those
    requests it has none; the context it opened is still the one the entries are written in.
    """
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if context.get("actor") is None and request.user.is_authenticated:
        context["actor"] = request.user


class RestrictedGenericViewSet(viewsets.GenericViewSet[Any]):
    permission_classes = [OrganizationModelPermission]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        audit_actor_bind(request)

    def get_queryset(self) -> QuerySet[Any]:
        action = ACTION_BY_METHOD.get(self.request.method or "", "view")
        return super().get_queryset().restrict(self.request.user, action)  # type: ignore[attr-defined]


class RestrictedReadOnlyModelViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, RestrictedGenericViewSet):
    pass
