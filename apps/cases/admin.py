"""Django admin for cases: scoped to the organisation, for administrators to look a case up and correct it.

The workflow, the team and its object permissions, and the verdict fed to the anomalies belong to the services, so
status, team and lead are read-only here: they are changed on the case's page or over the API. Notes, tasks,
evidence and reports are shown inline and read-only, so the record of the case is not edited behind its back.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.http import HttpRequest

from apps.accounts.models import User
from apps.cases.models import Case, CaseEvidence, CaseExport, CaseNote, CaseTask
from apps.cases.services import case_update
from apps.core.admin import OrganizationScopedAdmin


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseNoteInline(ReadOnlyInline):
    model = CaseNote
    fields = readonly_fields = ("created_at", "author", "body")


class CaseTaskInline(ReadOnlyInline):
    model = CaseTask
    fields = readonly_fields = ("title", "assignee", "due_date", "done_at")


class CaseEvidenceInline(ReadOnlyInline):
    model = CaseEvidence
    fields = readonly_fields = ("original_filename", "sha256", "size_bytes", "added_by", "added_at")


class CaseExportInline(ReadOnlyInline):
    model = CaseExport
    fields = readonly_fields = ("fmt", "status", "pii_unmasked", "requested_by", "created_at")


@admin.register(Case)
class CaseAdmin(OrganizationScopedAdmin):
    list_display = ["id", "title", "status", "priority", "due_date", "lead", "classification", "created_at"]
    list_filter = ["status", "priority", "classification"]
    search_fields = ["title", "=id"]
    date_hierarchy = "created_at"
    fields = (
        "title", "description", "priority", "due_date", "tags", "status", "lead", "team", "classification",
        "amount_assessed", "closure_reason", "duplicate_of", "closed_at", "closed_by", "created_by", "created_at",
    )  # fmt: skip
    readonly_fields = (
        "status", "lead", "team", "classification", "amount_assessed", "closure_reason", "duplicate_of", "closed_at",
        "closed_by", "created_by", "created_at",
    )  # fmt: skip
    inlines = [CaseNoteInline, CaseTaskInline, CaseEvidenceInline, CaseExportInline]
    list_select_related = ["lead"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A case is opened through the product, which grants its team access and links its findings.
        return False

    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        data = form.cleaned_data
        case_update(
            actor=cast(User, request.user),
            case=Case.objects.get(pk=obj.pk),
            title=data["title"],
            description=data["description"],
            priority=data["priority"],
            due_date=data["due_date"],
            tags=data["tags"],
        )
