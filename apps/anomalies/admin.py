"""Django admin for anomalies: scoped to the organisation; detectors write them, an administrator sets a status.

Titles are built by the detectors from masked names (tokens), so the list and its search show no personal data in
clear. A status change goes through ``anomaly_status_set`` like everywhere else, so it is stamped and audited.
Detector settings are edited here; the model registry shows each model's comparison with the deployed one, and
promotion is refused for a candidate that did not beat it.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.anomalies.models import Anomaly, AnomalyStatus, DetectorConfig, DriftAlert, MirrorStatistic, MLModel
from apps.anomalies.services import DISMISS_REASON_REQUIRED, anomaly_status_set, risk_model_promote
from apps.core.admin import OrganizationScopedAdmin
from apps.core.errors import DomainError

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


class DetectorConfigForm(forms.ModelForm[DetectorConfig]):
    class Meta:
        model = DetectorConfig
        fields = ("name", "enabled", "params")

    def clean(self) -> dict[str, Any]:
        from apps.anomalies.detectors import DETECTORS

        cleaned = super().clean() or {}
        detector = DETECTORS.get(cleaned.get("name") or "")
        if detector is None:
            self.add_error("name", _("No detector has this name."))
            return cleaned
        params = cleaned.get("params") or {}
        if not isinstance(params, dict):
            self.add_error("params", _("Parameters are a JSON object."))
            return cleaned
        try:
            detector(params)
        except ValueError as error:
            self.add_error("params", str(error))
        return cleaned


@admin.register(DetectorConfig)
class DetectorConfigAdmin(OrganizationScopedAdmin):
    form = DetectorConfigForm
    list_display = ["name", "enabled", "params", "updated_at"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]
    readonly_fields = ["defaults"]
    fields = ("name", "enabled", "params", "defaults")

    @admin.display(description=_("defaults"))
    def defaults(self, obj: DetectorConfig) -> str:
        from apps.anomalies.detectors import DETECTORS

        detector = DETECTORS.get(obj.name)
        return json.dumps(detector.parameters(), ensure_ascii=False) if detector else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One setting per registered detector is created by the first detection run.
        return False


@admin.register(MLModel)
class MLModelAdmin(OrganizationScopedAdmin):
    list_display = ["__str__", "version", "status", "precision_at_5", "auc", "test_period", "promoted_by", "created_at"]
    list_filter = ["status", "kind"]
    actions = ["promote"]
    fields = (
        "kind", "version", "status", "dataset", "train_from", "train_to", "test_from", "test_to", "comparison",
        "figures", "params", "artefact", "trained_by", "promoted_by", "promoted_at", "created_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("precision at 5%"))
    def precision_at_5(self, obj: MLModel) -> str:
        value = obj.metrics.get("precision@5")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="AUC")
    def auc(self, obj: MLModel) -> str:
        value = obj.metrics.get("auc")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description=_("held-out period"))
    def test_period(self, obj: MLModel) -> str:
        return f"{obj.test_from:%Y-%m-%d} – {obj.test_to:%Y-%m-%d}"

    @admin.display(description=_("held-out figures"))
    def figures(self, obj: MLModel) -> str:
        return json.dumps({k: v for k, v in obj.metrics.items() if k not in {"curve", "comparison"}}, indent=1)

    @admin.display(description=_("against the deployed model"))
    def comparison(self, obj: MLModel) -> str:
        comparison = obj.metrics.get("comparison") or {}
        if not comparison.get("deployed"):
            return str(_("No deployed model to compare with."))
        keys = ("auc", "precision@1", "precision@2", "precision@5", "precision@10", "recall@5", "revenue@5")
        lines = [f"{'':14} {_('candidate'):>10} v{comparison['deployed_version']:>9}"]
        for key in keys:
            ours, theirs = comparison["candidate"].get(key), comparison["deployed"].get(key)
            shown = ["—" if value is None else f"{value:.3f}" for value in (ours, theirs)]
            lines.append(f"{key:14} {shown[0]:>10} {shown[1]:>10}")
        lines.append(str(_("Better: yes")) if comparison.get("better") else str(_("Better: no")))
        return "\n".join(lines)

    @admin.action(description=_("Promote (only if it beat the deployed model)"), permissions=["change"])
    def promote(self, request: HttpRequest, queryset: Any) -> None:
        for model in queryset:
            try:
                risk_model_promote(model=model, actor=cast(User, request.user))
            except DomainError as refused:
                self.message_user(request, f"v{model.version}: {refused}", level=messages.ERROR)
            else:
                self.message_user(request, _("Version %(version)s deployed.") % {"version": model.version})


@admin.register(DriftAlert)
class DriftAlertAdmin(OrganizationScopedAdmin):
    list_display = ["model", "validation_precision", "recent_precision", "labelled", "created_at", "resolved_at"]
    readonly_fields = ["model", "validation_precision", "recent_precision", "labelled", "created_at", "resolved_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MirrorStatistic)
class MirrorStatisticAdmin(OrganizationScopedAdmin):
    list_display = ["country", "hs6", "month", "partner_usd"]
    list_filter = ["country"]
    search_fields = ["=hs6", "=country"]
