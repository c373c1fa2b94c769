from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from apps.core.models import HealthCheck


class OrganizationScopedAdmin(admin.ModelAdmin[Any]):
    """Admin for tenant data: an organisation's administrator sees and picks only their own organisation's rows.

    Platform superusers see everything. The list, the change form and every foreign-key choice go through
    ``restrict()``, the same entry point as pages, API and websockets.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset.restrict(request.user, "view")  # type: ignore[attr-defined]

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        related_manager = db_field.related_model._default_manager  # type: ignore[union-attr]
        if hasattr(related_manager, "restrict"):
            kwargs["queryset"] = related_manager.restrict(request.user, "view")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin[HealthCheck]):
    list_display = ["checked_at", "worker", "status", "duration_ms"]
    list_filter = ["status", "worker"]
    search_fields = ["worker"]
    date_hierarchy = "checked_at"
    readonly_fields = ["checked_at", "worker", "status", "details", "duration_ms"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: HealthCheck | None = None) -> bool:
        return False
