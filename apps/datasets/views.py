"""The dataset pages: list, upload, a dataset with its report and runs, live progress, mapping, retry, quarantine.

Every view reads through ``restrict()`` (``apps.datasets.selectors``): another organisation's dataset is a 404 on
every page, fragment and download. Writes go through ``apps.datasets.services``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import content_disposition_header
from django.utils.text import Truncator, capfirst, slugify
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from apps.core.errors import DomainError
from apps.datasets import selectors, services
from apps.datasets.exports import csv_lines
from apps.datasets.filtersets import DatasetFilterSet
from apps.datasets.forms import DatasetUploadForm, MappingForm
from apps.datasets.ingest.mapping import MappingOptions, dataset_options, fixable_fields
from apps.datasets.ingest.schemas import model_column, party_code_fields, record_columns, schema_for
from apps.datasets.ingest.types import FileFormat
from apps.datasets.ingest.validate import RULE_MESSAGES
from apps.datasets.models import RECORD_MODELS, Dataset, DatasetSource, DatasetStage, DatasetStatus

if TYPE_CHECKING:
    from apps.accounts.models import Organization, User

PAGE_SIZE = 25
PREVIEW_ROWS = 10
PREVIEW_CELL_CHARS = 80
QUARANTINE_BATCH = 2000
# While a dataset is in one of these, its pages follow the pipeline.
ACTIVE_STATUSES = {DatasetStatus.QUEUED, DatasetStatus.RUNNING}

FILE_FORMAT_LABELS = {
    FileFormat.CSV: gettext_lazy("CSV"),
    FileFormat.XLSX: gettext_lazy("Excel workbook (XLSX)"),
    FileFormat.TELEGRAM_JSON: gettext_lazy("Telegram Desktop export (JSON)"),
    FileFormat.PDF: gettext_lazy("PDF"),
    FileFormat.ZIP: gettext_lazy("ZIP archive"),
}
DELIMITER_LABELS = {
    ",": gettext_lazy("comma (,)"),
    ";": gettext_lazy("semicolon (;)"),
    "\t": gettext_lazy("tab"),
    "|": gettext_lazy("vertical bar (|)"),
}
# Rules of the readers, for rows they could not split into the header's columns (no field of the kind).
READER_RULE_LABELS = {
    "field_count": gettext_lazy("wrong number of fields"),
    "line_too_long": gettext_lazy("line too long"),
    "row_too_long": gettext_lazy("row too long"),
    "telegram_message": gettext_lazy("unreadable message"),
    # A member of a ZIP upload that was skipped, and why.
    "unsupported_member": gettext_lazy("file not of this kind"),
    "member_headers": gettext_lazy("file with other columns"),
    "encrypted_member": gettext_lazy("password-protected file"),
    "encrypted_pdf": gettext_lazy("password-protected PDF"),
    "corrupt_pdf": gettext_lazy("damaged PDF"),
    "corrupt_csv": gettext_lazy("damaged CSV"),
    "corrupt_xlsx": gettext_lazy("damaged workbook"),
    "sheet_too_large": gettext_lazy("worksheet too large"),
    "invalid_json": gettext_lazy("damaged JSON"),
    "not_telegram": gettext_lazy("not a Telegram export"),
    "unsupported_format": gettext_lazy("unsupported format"),
    "encoding": gettext_lazy("unknown encoding"),
    "empty": gettext_lazy("empty file"),
    "header_only": gettext_lazy("header without rows"),
}
QUARANTINE_COLUMNS = (
    gettext_lazy("Row"),
    gettext_lazy("Rule"),
    gettext_lazy("Field"),
    gettext_lazy("Reason"),
    gettext_lazy("Row as read"),
)


def rule_label(rule: str) -> str:
    label = RULE_MESSAGES.get(rule) or READER_RULE_LABELS.get(rule)  # type: ignore[call-overload]
    return capfirst(str(label)) if label else rule


def field_labels(kind: str) -> dict[str, str]:
    return {spec.name: capfirst(str(spec.label)) for spec in schema_for(kind).fields}


def fixable_choices(kind: str) -> dict[str, list[tuple[str, str]]]:
    """The fields a mapping may fix for the whole file, each with its (stored value, label) choices."""
    schema = schema_for(kind)
    return {
        name: [(str(value), str(label)) for value, label in model_column(schema.model, name).flatchoices]
        for name in fixable_fields(schema)
    }


def _datasets(request: HttpRequest) -> QuerySet[Dataset]:
    return selectors.dataset_list(user=request.user)


def _datasets_to_change(request: HttpRequest) -> QuerySet[Dataset]:
    return Dataset.objects.restrict(request.user, "change")


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.htmx)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> User:
    """The signed-in user of a view behind ``login_required``."""
    return cast("User", request.user)


# --- progress --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressView:
    active: bool
    percent: int
    stage_label: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int

    @property
    def stage_labels_json(self) -> str:
        """The stages' names in the page's language, for upload.js to show what the websocket reports."""
        return json.dumps({stage.value: str(stage.label) for stage in DatasetStage}, ensure_ascii=False)


def progress_view(dataset: Dataset) -> ProgressView:
    """Where the dataset is: the live figures the pipeline publishes while it runs, else the dataset's own."""
    progress = selectors.dataset_progress(dataset=dataset)
    if dataset.status == DatasetStatus.RUNNING and progress.stage in DatasetStage.values:
        stage_label = str(DatasetStage(progress.stage).label)
    else:
        stage_label = str(dataset.get_status_display())
    return ProgressView(
        active=dataset.status in ACTIVE_STATUSES,
        percent=max(0, min(100, int(progress.percent))),
        stage_label=stage_label,
        rows_read=progress.rows_read,
        rows_loaded=progress.rows_loaded,
        rows_quarantined=progress.rows_quarantined,
    )


def _finished_message(request: HttpRequest, dataset: Dataset) -> None:
    if dataset.status == DatasetStatus.READY:
        messages.success(
            request,
            _("“%(name)s” is loaded: %(loaded)d rows, %(quarantined)d set aside.")
            % {"name": dataset.name, "loaded": dataset.rows_loaded, "quarantined": dataset.rows_quarantined},
        )
    elif dataset.status == DatasetStatus.FAILED:
        messages.error(request, _("Loading “%(name)s” failed.") % {"name": dataset.name})
    elif dataset.status == DatasetStatus.NEEDS_MAPPING:
        messages.warning(
            request, _("Some columns of “%(name)s” need mapping before it can be loaded.") % {"name": dataset.name}
        )


def _finished_url(request: HttpRequest, dataset: Dataset) -> str:
    if dataset.status == DatasetStatus.NEEDS_MAPPING and request.user.has_perm("datasets.change_dataset"):
        return reverse("datasets:mapping", args=[dataset.pk])
    return reverse("datasets:detail", args=[dataset.pk])


@require_safe
@login_required
@permission_required("datasets.view_dataset", raise_exception=True)
def dataset_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress panel, polled while the dataset loads; once it is done the browser goes to the result."""
    dataset = get_object_or_404(_datasets(request), pk=pk)
    if not _is_htmx(request):
        return redirect("datasets:detail", pk=dataset.pk)
    progress = progress_view(dataset)
    if not progress.active:
        _finished_message(request, dataset)
        return HttpResponseClientRedirect(_finished_url(request, dataset))
    return render(request, "datasets/partials/progress.html", {"dataset": dataset, "progress": progress})


# --- list and upload -------------------------------------------------------------------------------------------


@require_safe
@login_required
@permission_required("datasets.view_dataset", raise_exception=True)
def dataset_list(request: HttpRequest) -> HttpResponse:
    filterset = DatasetFilterSet(request.GET)
    page_obj = Paginator(filterset.filter(_datasets(request)), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page_obj": page_obj,
        "query_without_page": f"{query.urlencode()}&" if query else "",
        "any_active": any(dataset.status in ACTIVE_STATUSES for dataset in page_obj.object_list),
    }
    template = "datasets/partials/dataset_table.html" if _is_htmx(request) else "datasets/dataset_list.html"
    return render(request, template, context)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@permission_required("datasets.add_dataset", raise_exception=True)
def dataset_upload(request: HttpRequest) -> HttpResponse:
    """The upload form; a file whose content the organisation already has leads to that dataset instead.

    Sent by htmx (upload.js shows the upload's progress), the answer is the live progress panel that replaces
    the form; sent as a plain form, a redirect to the dataset's page.
    """
    form = DatasetUploadForm(request.POST or None, request.FILES or None)
    user = _user(request)
    if request.method == "POST" and user.organization is None:
        form.add_error(None, _("Your account belongs to no organisation, and every dataset belongs to one."))
    if request.method == "POST" and form.is_valid():
        try:
            created = services.dataset_create(
                organization=cast("Organization", user.organization),
                user=user,
                file=form.cleaned_data["file"],
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                source=DatasetSource.UPLOAD,
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            dataset = created.dataset
            url = reverse("datasets:detail", args=[dataset.pk])
            if created.duplicate:
                uploaded_at = date_format(localtime(dataset.created_at), "SHORT_DATETIME_FORMAT")
                messages.info(
                    request,
                    _("This file was already uploaded on %(date)s as “%(name)s”; it has not been loaded again.")
                    % {"date": uploaded_at, "name": dataset.name},
                )
                return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
            if _is_htmx(request):
                context = {"dataset": dataset, "progress": progress_view(dataset)}
                return render(request, "datasets/partials/upload_started.html", context)
            return redirect(url)
    template = "datasets/partials/upload_form.html" if _is_htmx(request) else "datasets/dataset_upload.html"
    return render(request, template, {"form": form})


# --- the dataset page ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    rule_label: str
    field_label: str
    count: int


@dataclass(frozen=True)
class MappingRow:
    header: str
    field_label: str


@dataclass(frozen=True)
class Preview:
    labels: list[str]
    rows: list[list[str]]


def _report_rows(dataset: Dataset) -> list[ReportRow]:
    return [
        ReportRow(rule_label=rule_label(line.rule), field_label=capfirst(line.label), count=line.rows)
        for line in selectors.validation_report_lines(dataset=dataset)
    ]


def _mapping_rows(dataset: Dataset) -> list[MappingRow]:
    """The file's columns in file order (the stored mapping is a JSON object, whose keys lose it), each with the
    field it went into; columns that were not loaded say so."""
    labels = field_labels(dataset.kind)
    used = dataset.mapping_used or {}
    if not used:
        return []
    headers = (dataset.validation_report or {}).get("mapping", {}).get("headers") or []
    ordered = [header for header in headers if isinstance(header, str)]
    ordered += [header for header in used if header not in ordered]
    not_loaded = _("not loaded")
    rows = [
        MappingRow(header=header, field_label=labels.get(used[header], used[header]) if header in used else not_loaded)
        for header in ordered
    ]
    choices = fixable_choices(dataset.kind)
    for name, value in dataset_options(dataset).fixed.items():
        value_label = dict(choices.get(name, [])).get(value, value)
        rows.append(
            MappingRow(
                header=_("(no column: “%(value)s” for every row)") % {"value": value_label},
                field_label=labels.get(name, name),
            )
        )
    return rows


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        value = ", ".join(str(item) for item in value)
    return Truncator(str(value)).chars(PREVIEW_CELL_CHARS)


def _preview(request: HttpRequest, dataset: Dataset) -> Preview | None:
    """The first loaded records as stored: personal fields show their masking tokens."""
    if dataset.status != DatasetStatus.READY:
        return None
    model = RECORD_MODELS[dataset.kind]
    columns = ["row_number", *record_columns(model)]
    rows = selectors.record_list(user=request.user, kind=dataset.kind, dataset=dataset).order_by("row_number")
    values = list(rows.values_list(*columns)[:PREVIEW_ROWS])
    if not values:
        return None
    return Preview(
        labels=[capfirst(str(getattr(model._meta.get_field(name), "verbose_name", name))) for name in columns],
        rows=[[_cell(value) for value in row] for row in values],
    )


@require_safe
@login_required
@permission_required("datasets.view_dataset", raise_exception=True)
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(_datasets(request), pk=pk)
    context = {
        "dataset": dataset,
        "progress": progress_view(dataset),
        "can_change": request.user.has_perm("datasets.change_dataset"),
        # Running, but no live process holds its run lock: the worker loading it died.
        "stalled": dataset.status == DatasetStatus.RUNNING and not services.dataset_is_loading(dataset=dataset),
        "file_format_label": FILE_FORMAT_LABELS.get(dataset.file_format, dataset.file_format),  # type: ignore[call-overload]
        "delimiter_label": DELIMITER_LABELS.get(dataset.delimiter, dataset.delimiter),
        "report_rows": _report_rows(dataset),
        "mapping_rows": _mapping_rows(dataset),
        "anonymised_party_codes": dataset_options(dataset).anonymised_party_codes,
        "preview": _preview(request, dataset),
        "runs": dataset.runs.select_related("started_by"),
    }
    return render(request, "datasets/dataset_detail.html", context)


# --- retry and mapping -----------------------------------------------------------------------------------------


@require_POST
@login_required
@permission_required("datasets.change_dataset", raise_exception=True)
def dataset_retry(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(_datasets_to_change(request), pk=pk)
    try:
        services.dataset_retry(dataset=dataset, user=_user(request))
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("“%(name)s” is queued to load again.") % {"name": dataset.name})
    return redirect("datasets:detail", pk=dataset.pk)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("datasets.change_dataset", raise_exception=True)
def dataset_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """For a file whose columns were not all recognised: the investigator says which column holds which field."""
    dataset = get_object_or_404(_datasets_to_change(request), pk=pk)
    if dataset.status != DatasetStatus.NEEDS_MAPPING:
        messages.info(request, _("The columns of “%(name)s” do not need mapping now.") % {"name": dataset.name})
        return redirect("datasets:detail", pk=dataset.pk)
    proposal = selectors.mapping_proposal(dataset=dataset)
    form = MappingForm(
        request.POST or None,
        headers=proposal.headers,
        fields=field_labels(dataset.kind),
        required=[spec.name for spec in proposal.fields if spec.required],
        initial_columns=proposal.suggested,
        organization_id=dataset.organization_id,
        kind=dataset.kind,
        party_codes=bool(party_code_fields(schema_for(dataset.kind))),
        fixable=fixable_choices(dataset.kind),
        initial_options=proposal.options,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.dataset_apply_mapping(
                dataset=dataset,
                columns=form.cleaned_data["columns"],
                options=cast(MappingOptions, form.cleaned_data["options"]),
                save_as=form.cleaned_data["save_as"],
                user=_user(request),
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The mapping is applied; “%(name)s” is loading.") % {"name": dataset.name})
            return redirect("datasets:detail", pk=dataset.pk)
    context = {
        "dataset": dataset,
        "form": form,
        "missing_labels": [form.field_labels[name] for name in proposal.missing_required],
    }
    return render(request, "datasets/dataset_mapping.html", context)


# --- quarantine download ---------------------------------------------------------------------------------------


def _quarantine_batch(dataset: Dataset, after: tuple[int, int] | None) -> list[tuple[Any, ...]]:
    rows = selectors.quarantined_row_list(dataset=dataset)
    if after is not None:
        row_number, pk = after
        rows = rows.filter(Q(row_number__gt=row_number) | Q(row_number=row_number, pk__gt=pk))
    return list(rows.values_list("row_number", "pk", "rule", "field", "reason", "raw")[:QUARANTINE_BATCH])


def quarantine_csv_lines(dataset: Dataset) -> AsyncIterator[str]:
    """The CSV, a batch of rows at a time (keyset pagination), so memory stays flat for any number of rows.

    ``csv_lines`` escapes every cell: one a spreadsheet would run as a formula is written as text. The lines are
    asynchronous because under ASGI a synchronous iterator is read whole into memory before anything is sent.
    Labels are translated now, in the request's language, not later during the iteration.
    """
    fetch = sync_to_async(_quarantine_batch)
    header = [str(title) for title in QUARANTINE_COLUMNS]
    rules = {str(rule): rule_label(str(rule)) for rule in [*RULE_MESSAGES, *READER_RULE_LABELS]}
    fields = field_labels(dataset.kind)

    async def lines() -> AsyncIterator[str]:
        # A byte order mark, so that spreadsheet programs read the Cyrillic as UTF-8.
        yield "\ufeff" + "".join(csv_lines([header]))
        after: tuple[int, int] | None = None
        while batch := await fetch(dataset, after):
            yield "".join(
                csv_lines(
                    (row_number, rules.get(rule, rule), fields.get(field, field), reason, raw)
                    for row_number, _pk, rule, field, reason, raw in batch
                )
            )
            after = (batch[-1][0], batch[-1][1])

    return lines()


def quarantine_csv_response(dataset: Dataset) -> StreamingHttpResponse:
    """The quarantined rows as a CSV download, streamed."""
    response = StreamingHttpResponse(quarantine_csv_lines(dataset), content_type="text/csv; charset=utf-8")
    filename = f"{slugify(dataset.name, allow_unicode=True) or 'dataset'}-{dataset.pk}-quarantine.csv"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response


@require_safe
@login_required
@permission_required("datasets.view_dataset", raise_exception=True)
def dataset_quarantine(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    return quarantine_csv_response(get_object_or_404(_datasets(request), pk=pk))
