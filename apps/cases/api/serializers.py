"""What the cases API says about cases, their links and notes, and what it accepts to open, move and annotate one.

Personal values are masking tokens here as everywhere (entity names of people, anomaly titles).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.cases.links import export_link_sign
from apps.cases.models import (
    Case,
    CaseExport,
    CaseNote,
    CasePriority,
    CaseRecord,
    CaseStatus,
    ClosureClassification,
    ExportFormat,
    ExportStatus,
)
from apps.datasets.models import RecordKind
from apps.entities.api.serializers import EntityBriefSerializer


def username_field(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class CaseSerializer(serializers.ModelSerializer[Case]):
    url = serializers.HyperlinkedIdentityField(view_name="api:case-detail")
    lead = username_field(help_text=_("The lead investigator's username."))
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Case
        fields = [
            "id", "url", "title", "status", "priority", "due_date", "is_overdue", "lead", "tags", "classification",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class CaseRecordSerializer(serializers.ModelSerializer[CaseRecord]):
    class Meta:
        model = CaseRecord
        fields = ["kind", "record_id", "label"]
        read_only_fields = fields


class CaseDetailSerializer(CaseSerializer):
    team = username_field(many=True, help_text=_("Usernames of the team."))
    anomalies = serializers.SerializerMethodField(help_text=_("Ids of the linked anomalies the caller may see."))
    entities = serializers.SerializerMethodField()
    records = CaseRecordSerializer(source="record_links", many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields, "description", "team", "amount_assessed", "closure_reason", "duplicate_of",
            "closed_at", "anomalies", "entities", "records",
        ]  # fmt: skip
        read_only_fields = fields

    def get_anomalies(self, case: Case) -> list[int]:
        return list(self.context["anomalies"].values_list("pk", flat=True))

    @extend_schema_field(EntityBriefSerializer(many=True))
    def get_entities(self, case: Case) -> Any:
        return EntityBriefSerializer(self.context["entities"], many=True).data


class RecordRefSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=RecordKind.choices)
    id = serializers.IntegerField(min_value=1)


class CaseCreateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    priority = serializers.ChoiceField(choices=CasePriority.choices, default=CasePriority.MEDIUM)
    due_date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text=_("Defaults to the priority's service level.")
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    lead_id = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text=_("Defaults to the caller; others need assign_case.")
    )
    team_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    anomaly_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    entity_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    records = RecordRefSerializer(many=True, required=False, default=list)


class CaseStatusSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    classification = serializers.ChoiceField(
        choices=ClosureClassification.choices, required=False, allow_blank=True, default=""
    )
    amount_assessed = serializers.DecimalField(
        max_digits=20, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    duplicate_of = serializers.IntegerField(required=False, allow_null=True, default=None)


class CaseNoteSerializer(serializers.ModelSerializer[CaseNote]):
    author = username_field(help_text=_("The author's username."))
    body_html = serializers.CharField(read_only=True, help_text=_("The note rendered from Markdown and sanitised."))

    class Meta:
        model = CaseNote
        fields = ["id", "author", "body", "body_html", "created_at"]
        read_only_fields = ["id", "author", "body_html", "created_at"]


class CaseExportRequestSerializer(serializers.Serializer[Any]):
    fmt = serializers.ChoiceField(choices=ExportFormat.choices, help_text=_("The report's format."))


class CaseExportSerializer(serializers.ModelSerializer[CaseExport]):
    download_url = serializers.SerializerMethodField(
        help_text=_(
            "A signed link to the file, issued to the caller and valid for a limited time; null until the report "
            "is ready."
        )
    )

    class Meta:
        model = CaseExport
        fields = ["id", "fmt", "status", "pii_unmasked", "sha256", "error", "created_at", "finished_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, export: CaseExport) -> str | None:
        if export.status != ExportStatus.READY:
            return None
        request = self.context["request"]
        return str(request.build_absolute_uri(export_link_sign(export=export, user_id=request.user.pk)))
