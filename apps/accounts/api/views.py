from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import MeSerializer, OrganizationSerializer
from apps.accounts.models import Organization, User
from apps.core.api.viewsets import RestrictedReadOnlyModelViewSet


class MeView(APIView):
    """The caller: user, organisation, role and how the request was authenticated."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(cast(User, request.user), context={"request": request}).data)


class OrganizationViewSet(RestrictedReadOnlyModelViewSet):
    """The caller's organisation; others are never listed."""

    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
