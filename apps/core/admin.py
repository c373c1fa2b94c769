from django.contrib import admin

from apps.core.models import HealthCheck


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin[HealthCheck]):
    list_display = ["checked_at", "worker", "status", "duration_ms"]
    list_filter = ["status", "worker"]
    search_fields = ["worker"]
    date_hierarchy = "checked_at"
    readonly_fields = ["checked_at", "worker", "status", "details", "duration_ms"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
