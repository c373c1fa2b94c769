"""Disclosures over the API: list and read them (one's own; an organisation's administrators all of it), and
unlock an object with a reason. A disclosure is never changed or deleted: PUT, PATCH and DELETE are 405."""

from __future__ import annotations

from typing import Any, cast

from django.apps import apps as django_apps
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.accounts.tiers import TierRefused
from apps.core.api.permissions import OrganizationMemberPermission
from apps.core.api.viewsets import audit_actor_bind
from apps.privacy import selectors, services
from apps.privacy.api.serializers import PIIDisclosureSerializer, PIIUnlockSerializer
from apps.privacy.models import PIIDisclosure


class PIIDisclosureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]):
    """Personal-data disclosures: who unlocked which object, when and why."""

    permission_classes = [OrganizationMemberPermission]
    serializer_class = PIIDisclosureSerializer
    queryset = PIIDisclosure.objects.none()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        audit_actor_bind(request)

    def get_queryset(self) -> QuerySet[PIIDisclosure]:
        return selectors.pii_disclosure_list(user=self.request.user)

    def get_serializer_class(self) -> Any:
        return PIIUnlockSerializer if self.action == "create" else PIIDisclosureSerializer

    @extend_schema(request=PIIUnlockSerializer, responses={201: PIIDisclosureSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Unlock an object's personal data for a limited time, stating why; the answer carries the clear values."""
        serializer = PIIUnlockSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model: Any = django_apps.get_model(serializer.validated_data["target_type"])
        manager = model._default_manager
        if not hasattr(manager, "restrict"):
            raise Http404
        target = manager.restrict(request.user, "view").filter(pk=serializer.validated_data["object_id"]).first()
        if target is None:
            raise Http404(_("No such object."))
        try:
            disclosure = services.pii_unlock(
                user=cast(User, request.user), target=target, reason=serializer.validated_data["reason"]
            )
        except (services.PIIUnlockRefused, TierRefused) as exc:
            raise PermissionDenied(str(exc)) from exc
        body = PIIDisclosureSerializer(disclosure, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)
