"""Django admin for datasets: scoped to the organisation, and read-only where the pipeline is the only writer.

Datasets are created by uploads (page, API, command) so that the pipeline always runs; the admin shows them, lets
an administrator rename one or retry a failed load, and never deletes one (a dataset's records run to millions of
rows, which the admin's delete confirmation would try to list). Record tables are read-only: their personal
fields hold masking tokens, so no list, filter or search shows personal data in clear.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.admin import OrganizationScopedAdmin
from apps.core.errors import DomainError
from apps.datasets import services
from apps.datasets.models import (
    RECORD_MODELS,
    ColumnMapping,
    CustomsDeclaration,
    Dataset,
    DatasetRun,
    DatasetStatus,
    Document,
    QuarantinedRow,
    RegistryCompany,
    RegistryPerson,
    TaxInvoice,
    TelegramMessage,
)

if TYPE_CHECKING:
    from apps.accounts.models import User

RECORD_KINDS = {model: kind for kind, model in RECORD_MODELS.items()}
# The dataset's admin page: the name is the one thing an administrator may change; the pipeline writes the rest.
DATASET_FIELDS = (
    "name", "kind", "source", "status", "stage", "error", "original_filename", "size_bytes", "sha256",
    "file_format", "encoding", "delimiter", "column_mapping", "mapping_used", "mapping_options", "rows_total",
    "rows_loaded", "rows_quarantined", "validation_report", "quarantined_rows_link", "created_by", "created_at",
    "ready_at",
)  # fmt: skip
# Quarantined rows shown on a dataset's admin page; all of them are in the CSV download and the row list.
QUARANTINE_INLINE_ROWS = 50


class ReadOnlyAdminMixin:
    """Rows only the pipeline writes: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LimitedInlineFormSet(BaseInlineFormSet):
    """Shows the first ``QUARANTINE_INLINE_ROWS`` rows: a dataset may have hundreds of thousands."""

    def get_queryset(self) -> Any:
        if not hasattr(self, "_limited_queryset"):
            self._limited_queryset = list(super().get_queryset()[:QUARANTINE_INLINE_ROWS])
        return self._limited_queryset


class DatasetRunInline(ReadOnlyAdminMixin, admin.TabularInline[DatasetRun, Dataset]):
    model = DatasetRun
    extra = 0
    fields = readonly_fields = ("started_at", "finished_at", "status", "started_by", "error", "stats")


class QuarantinedRowInline(ReadOnlyAdminMixin, admin.TabularInline[QuarantinedRow, Dataset]):
    model = QuarantinedRow
    formset = LimitedInlineFormSet
    extra = 0
    fields = readonly_fields = ("row_number", "rule", "field", "reason", "raw")
    verbose_name_plural = _("quarantined rows (the first 50; all of them are in the quarantined row list)")


@admin.register(Dataset)
class DatasetAdmin(OrganizationScopedAdmin):
    list_display = [
        "name", "kind", "status", "rows_loaded", "rows_quarantined", "source", "created_by", "created_at",
    ]  # fmt: skip
    list_filter = ["kind", "status", "source"]
    search_fields = ["name", "original_filename", "sha256"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    inlines = [DatasetRunInline, QuarantinedRowInline]
    actions = ["retry_failed"]
    fields = DATASET_FIELDS
    readonly_fields = tuple(field for field in DATASET_FIELDS if field != "name")

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns = list(super().get_list_display(request))
        return [*columns, "organization"] if request.user.is_superuser else columns

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        filters = list(super().get_list_filter(request))
        return [*filters, "organization"] if request.user.is_superuser else filters

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Dataset | None = None) -> bool:
        return False

    @admin.display(description=_("quarantined rows"))
    def quarantined_rows_link(self, obj: Dataset) -> str:
        url = reverse("admin:datasets_quarantinedrow_changelist")
        return format_html('<a href="{}?dataset__id__exact={}">{}</a>', url, obj.pk, _("All quarantined rows"))

    @admin.action(description=_("Retry loading the selected failed datasets"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        retried = 0
        for dataset in queryset.restrict(request.user, "change").filter(status=DatasetStatus.FAILED):  # type: ignore[attr-defined]
            try:
                services.dataset_retry(dataset=dataset, user=cast("User", request.user))
            except DomainError as error:
                self.message_user(request, f"{dataset}: {error}", messages.ERROR)
            else:
                retried += 1
        self.message_user(
            request,
            ngettext("%(count)d dataset queued again.", "%(count)d datasets queued again.", retried)
            % {"count": retried},
            messages.SUCCESS,
        )


class DatasetChildAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    """Rows that belong to a dataset and carry no organisation of their own: scoped through the dataset."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        datasets = Dataset.objects.restrict(request.user, "view")
        return super().get_queryset(request).filter(dataset__in=datasets).select_related("dataset")


class DatasetListFilter(admin.SimpleListFilter):
    """The datasets of the admin's own organisation only; the default related filter would list every one."""

    title = _("dataset")
    parameter_name = "dataset__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        datasets = Dataset.objects.restrict(request.user, "view")
        kind = RECORD_KINDS.get(model_admin.model)
        if kind:
            datasets = datasets.filter(kind=kind)
        return [(dataset.pk, str(dataset)) for dataset in datasets.only("pk", "name")[:100]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(dataset_id=value) if value else queryset


@admin.register(DatasetRun)
class DatasetRunAdmin(DatasetChildAdmin):
    list_display = ["dataset", "started_at", "finished_at", "status", "started_by"]
    list_filter = ["status", DatasetListFilter]
    date_hierarchy = "started_at"
    list_select_related = ["dataset", "started_by"]


@admin.register(QuarantinedRow)
class QuarantinedRowAdmin(DatasetChildAdmin):
    list_display = ["dataset", "row_number", "rule", "field", "reason"]
    list_filter = ["rule", "field", DatasetListFilter]
    search_fields = ["reason", "field", "rule"]
    list_select_related = ["dataset"]


@admin.register(ColumnMapping)
class ColumnMappingAdmin(OrganizationScopedAdmin):
    list_display = ["name", "kind", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    list_select_related = ["created_by"]
    readonly_fields = ["headers", "created_by", "created_at"]
    fields = ["name", "kind", "headers", "columns", "options", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A mapping is made on the mapping page, from a real file's headers.
        return False


class RecordAdmin(ReadOnlyAdminMixin, OrganizationScopedAdmin):
    """A typed record table. Every list, filter and search is on stored values, where personal data is a token."""

    list_select_related = ["dataset"]
    list_per_page = 50
    # The changelist's total count over millions of rows costs more than it tells.
    show_full_result_count = False

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [*super().get_list_filter(request), DatasetListFilter]


@admin.register(CustomsDeclaration)
class CustomsDeclarationAdmin(RecordAdmin):
    list_display = [
        "declaration_number", "declaration_date", "direction", "trader_code", "trader_name", "goods_code",
        "customs_value_uah", "dataset",
    ]  # fmt: skip
    list_filter = ["direction", "declaration_date"]
    search_fields = ["declaration_number", "=trader_code", "=declarant_code", "=goods_code"]


@admin.register(TaxInvoice)
class TaxInvoiceAdmin(RecordAdmin):
    list_display = [
        "invoice_number", "invoice_date", "seller_code", "seller_name", "buyer_code", "buyer_name", "total_uah",
        "dataset",
    ]  # fmt: skip
    list_filter = ["invoice_date"]
    search_fields = ["invoice_number", "=seller_code", "=buyer_code"]


@admin.register(RegistryCompany)
class RegistryCompanyAdmin(RecordAdmin):
    list_display = ["code", "name", "legal_form", "status", "registration_date", "dataset"]
    list_filter = ["registration_date"]
    search_fields = ["=code", "name"]


@admin.register(RegistryPerson)
class RegistryPersonAdmin(RecordAdmin):
    list_display = ["full_name", "birth_date", "tax_number", "source_name", "dataset"]
    search_fields = ["=full_name", "=tax_number"]


@admin.register(TelegramMessage)
class TelegramMessageAdmin(RecordAdmin):
    list_display = ["channel", "message_id", "sent_at", "author", "forwarded_from", "dataset"]
    list_filter = ["sent_at"]
    search_fields = ["channel", "=message_id"]


@admin.register(Document)
class DocumentAdmin(RecordAdmin):
    list_display = ["filename", "page_count", "sha256", "dataset"]
    search_fields = ["filename", "=sha256"]
