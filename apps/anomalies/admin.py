"""Django admin for anomalies: scoped to the organisation; detectors write them, an administrator sets a status.

Titles are built by the detectors from masked names (tokens), so the list and its search show no personal data in
clear. A status change goes through ``anomaly_status_set`` like everywhere else, so it is stamped and audited.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.accounts.models import User
from apps.anomalies.models import Anomaly, AnomalyStatus
from apps.anomalies.services import DISMISS_REASON_REQUIRED, anomaly_status_set
from apps.core.admin import OrganizationScopedAdmin

STATUS_FIELDS = ("status", "status_reason")


class AnomalyStatusForm(forms.ModelForm[Anomaly]):
    class Meta:
        model = Anomaly
        fields = STATUS_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("status") == AnomalyStatus.DISMISSED and not (cleaned.get("status_reason") or "").strip():
            self.add_error("status_reason", str(DISMISS_REASON_REQUIRED))
        return cleaned


@admin.register(Anomaly)
class AnomalyAdmin(OrganizationScopedAdmin):
    form = AnomalyStatusForm
    list_display = ["title", "detector", "severity", "score", "status", "created_at"]
    list_filter = ["severity", "status", "detector"]
    search_fields = ["title", "=dedup_key"]
    date_hierarchy = "created_at"
    fields = (
        "title", "detector", "severity", "score", "explanation", "entities", "records", *STATUS_FIELDS,
        "status_changed_by", "status_changed_at", "dedup_key", "created_at",
    )  # fmt: skip
    readonly_fields = tuple(field for field in fields if field not in STATUS_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Anomalies come from detectors, with their evidence; one typed in by hand would have none.
        return False

    def save_model(self, request: HttpRequest, obj: Anomaly, form: Any, change: bool) -> None:
        if set(form.changed_data) & set(STATUS_FIELDS):
            anomaly_status_set(
                anomaly=obj,
                user=cast(User, request.user),
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["status_reason"],
            )
