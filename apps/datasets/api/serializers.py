from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.datasets.models import Dataset, DatasetRun, DatasetStage, RecordKind


class DatasetRunSerializer(serializers.ModelSerializer[DatasetRun]):
    started_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DatasetRun
        fields = ["id", "started_at", "finished_at", "status", "error", "stats", "started_by"]


class DatasetSerializer(serializers.ModelSerializer[Dataset]):
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    column_mapping: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:dataset-detail")
    # Empty before a run starts and after it fails.
    stage = serializers.ChoiceField(choices=DatasetStage.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id", "url", "name", "kind", "source", "status", "stage", "error", "original_filename", "size_bytes",
            "sha256", "file_format", "encoding", "delimiter", "rows_total", "rows_loaded", "rows_quarantined",
            "validation_report", "column_mapping", "mapping_used", "created_by", "created_at", "ready_at",
        ]  # fmt: skip
        read_only_fields = fields


class DatasetDetailSerializer(DatasetSerializer):
    runs = DatasetRunSerializer(many=True, read_only=True)

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "runs"]
        read_only_fields = fields


class DatasetUploadSerializer(serializers.Serializer[None]):
    file = serializers.FileField(
        help_text=_("CSV (UTF-8 or Windows-1251), XLSX, Telegram Desktop JSON export, PDF, or a ZIP archive of these.")
    )
    kind = serializers.ChoiceField(choices=RecordKind.choices, help_text=_("The record kind the file holds."))
    name = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text=_("A name for the dataset; the file name if empty.")
    )
