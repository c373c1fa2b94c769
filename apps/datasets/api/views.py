"""The datasets endpoints: list and read the organisation's datasets, upload a file, retry a failed load, and
download the quarantined rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.core.api.permissions import DENIED_MESSAGES, OrganizationModelPermission
from apps.core.api.viewsets import RestrictedGenericViewSet
from apps.datasets import services
from apps.datasets.api.serializers import DatasetDetailSerializer, DatasetSerializer, DatasetUploadSerializer
from apps.datasets.exports import csv_lines
from apps.datasets.filtersets import DatasetFilterSet
from apps.datasets.models import Dataset, DatasetSource, DatasetStatus, RecordKind
from apps.datasets.views import quarantine_csv_response

if TYPE_CHECKING:
    from apps.accounts.models import Organization, User


class DatasetPermission(OrganizationModelPermission):
    """Retrying changes a dataset, so it needs ``change_dataset`` although it is a POST."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(view, "action", None) != "retry":
            return super().has_permission(request, view)
        if not super(OrganizationModelPermission, self).has_permission(request, view):
            return False
        if not request.user.has_perm("datasets.change_dataset"):
            self.message = DENIED_MESSAGES["change"] % {"objects": Dataset._meta.verbose_name_plural}
            return False
        return True


class CSVRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv``; the CSV itself is streamed by the view, only errors are rendered here."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return "".join(csv_lines([["detail"], [detail]])).encode()


@extend_schema_view(
    list=extend_schema(
        summary="List datasets",
        description="The datasets of the caller's organisation, newest first, with their status and row counts.",
        parameters=[
            OpenApiParameter("kind", enum=RecordKind.values, description="Only datasets of this record kind."),
            OpenApiParameter("status", enum=DatasetStatus.values, description="Only datasets in this status."),
        ],
    ),
    retrieve=extend_schema(
        summary="Read a dataset",
        description="Status, file facts, row counts, the validation report (rows set aside per rule and field), "
        "the column mapping used and every run.",
    ),
)
class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedGenericViewSet):
    """The organisation's datasets: what was loaded, how far the pipeline got, and what it set aside."""

    queryset = Dataset.objects.select_related("created_by", "column_mapping")
    permission_classes = [DatasetPermission]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Any]:
        if self.action == "retry":
            return self.queryset.restrict(self.request.user, "change")
        queryset = super().get_queryset()
        if self.action == "list":
            filterset = DatasetFilterSet(self.request.query_params)
            if not filterset.is_valid():
                raise ValidationError(
                    {name: [str(error) for error in errors] for name, errors in filterset.errors.items()}
                )
            return filterset.filter(queryset)
        if self.action == "retrieve":
            return queryset.prefetch_related("runs__started_by")
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "list":
            return DatasetSerializer
        if self.action == "create":
            return DatasetUploadSerializer
        return DatasetDetailSerializer

    def _detail(self, dataset: Dataset, status_code: int) -> Response:
        dataset = self.queryset.prefetch_related("runs__started_by").get(pk=dataset.pk)
        return Response(
            DatasetDetailSerializer(dataset, context=self.get_serializer_context()).data, status=status_code
        )

    @extend_schema(
        summary="Upload a file",
        description="Stores the file and queues it for loading; follow its status on the dataset. The same "
        "content is loaded once per organisation.",
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={
            201: OpenApiResponse(DatasetDetailSerializer, description="A new dataset, queued for loading."),
            200: OpenApiResponse(
                DatasetDetailSerializer,
                description="The organisation already has a dataset with the same content; it is returned and the "
                "file is not loaded again.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = DatasetUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        user = cast("User", request.user)
        result = services.dataset_create(
            organization=cast("Organization", user.organization),
            user=user,
            file=upload,
            name=serializer.validated_data.get("name") or upload.name,
            kind=serializer.validated_data["kind"],
            source=DatasetSource.API,
        )
        return self._detail(result.dataset, status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED)

    @extend_schema(
        summary="Retry a failed load",
        description="Queues the dataset again; the run starts clean. 400 when it is already loaded or loading.",
        request=None,
        responses={202: DatasetDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        dataset = self.get_object()
        services.dataset_retry(dataset=dataset, user=cast("User", request.user))
        return self._detail(dataset, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download the quarantined rows",
        description="CSV (UTF-8 with BOM): row number, rule, field, reason and the raw row, personal data masked. "
        "Cells that a spreadsheet would run as a formula are escaped.",
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer])
    def quarantine(self, request: Request, pk: str) -> StreamingHttpResponse:
        return quarantine_csv_response(self.get_object())
