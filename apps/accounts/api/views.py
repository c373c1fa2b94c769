from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import MeSerializer, OrganizationSerializer
from apps.accounts.models import Organization


class MeView(APIView):
    """The caller: user, organisation, role and how the request was authenticated."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"request": request}).data)


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's organisation; others are never listed."""

    serializer_class = OrganizationSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Organization.objects.restrict(self.request.user, "view")
