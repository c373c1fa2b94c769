"""Reads on datasets, always through ``restrict()``: the user's organisation, the user's permissions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from apps.datasets.ingest.mapping import MappingOptions, auto_map
from apps.datasets.ingest.progress import Progress, progress_get
from apps.datasets.ingest.schemas import FieldSpec, schema_for
from apps.datasets.ingest.validate import RULE_MESSAGES
from apps.datasets.models import RECORD_MODELS, ColumnMapping, Dataset, DatasetStatus, QuarantinedRow

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


def dataset_list(*, user: User | AnonymousUser, kind: str | None = None, status: str | None = None) -> QuerySet[Any]:
    datasets = Dataset.objects.restrict(user, "view").select_related("created_by", "column_mapping")
    if kind:
        datasets = datasets.filter(kind=kind)
    if status:
        datasets = datasets.filter(status=status)
    return datasets


def dataset_get(*, user: User | AnonymousUser, pk: int) -> Dataset:
    """The dataset if the user may see it; ``Dataset.DoesNotExist`` otherwise (another organisation's too)."""
    return dataset_list(user=user).get(pk=pk)


def record_list(*, user: User | AnonymousUser, kind: str, dataset: Dataset | None = None) -> QuerySet[Any]:
    """Loaded records of a kind; rows of datasets that are not ``ready`` are never included."""
    records = RECORD_MODELS[kind].objects.restrict(user, "view")
    if dataset is not None:
        records = records.filter(dataset=dataset)
    return records


def quarantined_row_list(*, dataset: Dataset) -> QuerySet[QuarantinedRow]:
    """The quarantined rows of a dataset the caller has already read through ``dataset_get``."""
    return QuarantinedRow.objects.filter(dataset=dataset).order_by("row_number", "pk")


def dataset_progress(*, dataset: Dataset) -> Progress:
    """Live progress while a run is going (from the cache), else what the dataset row says."""
    live = progress_get(dataset.pk) if dataset.status == DatasetStatus.RUNNING else None
    if live is not None:
        return live
    return Progress(
        dataset_id=dataset.pk,
        status=dataset.status,
        stage=dataset.stage,
        percent=100 if dataset.status == DatasetStatus.READY else 0,
        rows_read=dataset.rows_total,
        rows_loaded=dataset.rows_loaded,
        rows_quarantined=dataset.rows_quarantined,
        updated_at=dataset.updated_at.timestamp(),
    )


@dataclass(frozen=True)
class ReportLine:
    rule: str
    field: str
    label: str
    message: str
    rows: int


def validation_report_lines(*, dataset: Dataset) -> list[ReportLine]:
    """The validation report of a dataset in the reader's language: field label, rule message, row count."""
    schema = schema_for(dataset.kind)
    lines = []
    for failure in dataset.validation_report.get("failures", []):
        field_name = failure.get("field", "")
        label = str(schema.field(field_name).label) if field_name in schema.field_names else ""
        rule = failure.get("rule", "")
        message = str(RULE_MESSAGES[rule]) if rule in RULE_MESSAGES else rule
        lines.append(ReportLine(rule=rule, field=field_name, label=label, message=message, rows=failure["rows"]))
    return lines


@dataclass(frozen=True)
class MappingProposal:
    """What the mapping page shows: the file's headers, a field suggested for each, and the kind's fields."""

    headers: list[str]
    suggested: dict[str, str]
    fields: tuple[FieldSpec, ...]
    missing_required: list[str]
    options: MappingOptions


def mapping_proposal(*, dataset: Dataset) -> MappingProposal:
    schema = schema_for(dataset.kind)
    report = dataset.validation_report.get("mapping", {})
    headers = list(report.get("headers", []))
    suggested = dict(dataset.mapping_used or report.get("columns") or auto_map(schema, headers))
    options = MappingOptions.from_json(dataset.mapping_options if dataset.mapping_used else report.get("options"))
    mapped = set(suggested.values()) | set(options.fixed)
    return MappingProposal(
        headers=headers,
        suggested=suggested,
        fields=schema.fields,
        missing_required=[spec.name for spec in schema.required_fields if spec.name not in mapped],
        options=options,
    )


def column_mapping_list(*, user: User | AnonymousUser, kind: str | None = None) -> QuerySet[Any]:
    mappings = ColumnMapping.objects.restrict(user, "view")
    return mappings.filter(kind=kind) if kind else mappings
