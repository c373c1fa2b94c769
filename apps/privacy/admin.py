"""Administrators review disclosures here: a read-only list with filters and a CSV export.

Nothing is added, changed or deleted through admin; the records leave the database only by the retention purge.
Names of objects are their kind and number and the disclosed fields hold tokens, so the list shows no clear value.
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.admin import OrganizationScopedAdmin
from apps.privacy.models import PIIDisclosure

# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe keeps it text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


@admin.register(PIIDisclosure)
class PIIDisclosureAdmin(OrganizationScopedAdmin):
    list_display = ["created_at", "username", "object_label", "content_type", "field_list", "reason", "expires_at"]
    list_filter = ["created_at", "content_type"]
    search_fields = ["username", "reason", "object_label"]
    date_hierarchy = "created_at"
    list_select_related = ["content_type"]
    readonly_fields = [
        "organization", "user", "username", "created_at", "expires_at", "reason", "content_type", "object_id",
        "object_label", "fields", "tokens",
    ]  # fmt: skip
    fields = [*readonly_fields]
    actions = ["export_csv"]

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser:
            filters.append("organization")
        return filters

    @admin.display(description=_("fields"))
    def field_list(self, obj: PIIDisclosure) -> str:
        return ", ".join(obj.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PIIDisclosure | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PIIDisclosure | None = None) -> bool:
        return False

    @admin.action(description=_("Export the selected disclosures as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[PIIDisclosure]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="pii-disclosures-{stamp}.csv"'
        response.write("\ufeff")
        writer = csv.writer(response)
        writer.writerow(
            ["id", "organisation", "user", "unlocked at", "visible until", "object", "object type", "object id",
             "fields", "reason"]
        )  # fmt: skip
        for disclosure in queryset.select_related("organization", "content_type").order_by("created_at", "id"):
            writer.writerow(
                [
                    csv_cell(value)
                    for value in (
                        disclosure.pk,
                        disclosure.organization.name,
                        disclosure.username,
                        disclosure.created_at.isoformat(),
                        disclosure.expires_at.isoformat(),
                        disclosure.object_label,
                        disclosure.content_type.model,
                        disclosure.object_id,
                        "; ".join(disclosure.fields),
                        disclosure.reason,
                    )
                ]
            )
        return response
