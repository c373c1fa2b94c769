"""Writes on datasets: upload, run the ingestion pipeline, retry, apply a column mapping, run post-load hooks.

The pipeline itself lives in ``apps.datasets.ingest`` (docs/ingestion.md); these functions own the dataset's
state: statuses, run history, the run lock, notifications and the hand-over to the post-load hooks.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.errors import DomainError
from apps.core.notifications import notification_send_to_user
from apps.datasets import hooks
from apps.datasets.ingest.load import LoadResult, load, mapping_report
from apps.datasets.ingest.mapping import (
    MappingOptions,
    ResolvedMapping,
    dataset_options,
    mapping_problems,
    missing_required,
    normalized_headers,
    resolve_mapping,
)
from apps.datasets.ingest.progress import ProgressPublisher
from apps.datasets.ingest.readers import detect_file, read_chunks
from apps.datasets.ingest.schemas import schema_for
from apps.datasets.ingest.types import IngestError
from apps.datasets.models import (
    ColumnMapping,
    Dataset,
    DatasetRun,
    DatasetSource,
    DatasetStage,
    DatasetStatus,
    RecordKind,
)

if TYPE_CHECKING:
    from apps.accounts.models import Organization, User

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 8 << 20
# Rows per chunk: big enough that per-chunk overhead vanishes, small enough that memory stays flat.
CHUNK_ROWS = 50_000
# Session-level advisory locks of dataset runs live in this namespace (the high 32 bits of the key).
RUN_LOCK_NAMESPACE = 0x4E58_4453
INTERRUPTED = gettext_lazy("Interrupted: the process loading the file stopped before it finished.")


@dataclass(frozen=True)
class DatasetCreateResult:
    dataset: Dataset
    # True when the organisation already had a dataset with the same content: that one is returned, unchanged.
    duplicate: bool


class _HashingFile(File):
    """Computes the SHA-256 of the content while the storage reads it, so a large file is read once."""

    def __init__(self, file: File) -> None:
        super().__init__(file, name=file.name)
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        for chunk in super().chunks(chunk_size or HASH_CHUNK_BYTES):
            data = chunk.encode() if isinstance(chunk, str) else chunk
            self.sha256.update(data)
            self.bytes_read += len(data)
            yield data


def dataset_create(
    *,
    organization: Organization,
    user: User | None,
    file: File,
    name: str,
    kind: str,
    source: str,
    enqueue: bool = True,
) -> DatasetCreateResult:
    """Store an uploaded file and queue it for loading; the same content twice in an organisation is loaded once.

    ``enqueue=False`` leaves the run to the caller (``manage.py ingest --wait`` runs it in its own process).
    """
    if kind not in RecordKind.values:
        raise DomainError(_("Unknown record kind “%(kind)s”.") % {"kind": kind})
    if source not in DatasetSource.values:
        raise DomainError(_("Unknown dataset source “%(source)s”.") % {"source": source})
    original_filename = os.path.basename(file.name or "") or "upload"
    file.seek(0)
    content = _HashingFile(file)
    storage_name = Dataset._meta.get_field("file").generate_filename(None, original_filename)
    stored_name = default_storage.save(storage_name, content)
    sha256 = content.sha256.hexdigest()
    existing = Dataset.objects.filter(organization=organization, sha256=sha256).first()
    if existing is not None:
        default_storage.delete(stored_name)
        return DatasetCreateResult(dataset=existing, duplicate=True)
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                organization=organization,
                name=(name or original_filename)[:255],
                kind=kind,
                source=source,
                file=stored_name,
                original_filename=original_filename[:255],
                size_bytes=content.bytes_read,
                sha256=sha256,
                status=DatasetStatus.QUEUED,
                created_by=user,
            )
            if enqueue:
                _enqueue_on_commit(dataset, user)
    except IntegrityError:
        # The same file uploaded twice at once: the other upload won the unique constraint.
        default_storage.delete(stored_name)
        return DatasetCreateResult(
            dataset=Dataset.objects.get(organization=organization, sha256=sha256), duplicate=True
        )
    return DatasetCreateResult(dataset=dataset, duplicate=False)


def _enqueue_on_commit(dataset: Dataset, user: User | None) -> None:
    from apps.datasets.tasks import dataset_ingest

    dataset_id, user_id = dataset.pk, user.pk if user is not None else None
    transaction.on_commit(lambda: dataset_ingest.delay(dataset_id, user_id))


@contextmanager
def _run_lock(dataset_id: int) -> Iterator[bool]:
    """Held by the connection that loads a dataset; a killed worker's connection drops it with the transaction."""
    key = (RUN_LOCK_NAMESPACE << 32) + dataset_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def dataset_is_loading(*, dataset: Dataset) -> bool:
    """True while a live process holds the dataset's run lock."""
    with _run_lock(dataset.pk) as acquired:
        return not acquired


@contextmanager
def _local_path(field_file: FieldFile) -> Iterator[str]:
    """A path on this machine: the file itself on local storage, else a temporary copy."""
    try:
        path = field_file.path
    except NotImplementedError:
        path = ""
    if path:
        yield path
        return
    suffix = os.path.splitext(field_file.name or "")[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        with field_file.open("rb") as source:
            for chunk in source.chunks(HASH_CHUNK_BYTES):
                copy.write(chunk)
        copy.flush()
        yield copy.name


def dataset_run(*, dataset_id: int, user: User | None = None, hooks_inline: bool = False) -> Dataset:
    """Load a dataset from its stored file. Idempotent: a loaded dataset is left alone, a dataset another process
    is loading is left to it, and a run after a failure or a killed worker starts clean.

    ``hooks_inline`` runs the post-load hooks in this process after the commit instead of queueing them.
    """
    dataset = Dataset.objects.select_related("column_mapping").get(pk=dataset_id)
    if dataset.status == DatasetStatus.READY:
        return dataset
    with _run_lock(dataset.pk) as acquired:
        if not acquired:
            logger.info("dataset %s is being loaded by another process", dataset.pk)
            return dataset
        dataset.refresh_from_db()
        if dataset.status == DatasetStatus.READY:
            return dataset
        DatasetRun.objects.filter(dataset=dataset, status=DatasetStatus.RUNNING).update(
            status=DatasetStatus.FAILED, error=str(INTERRUPTED), finished_at=timezone.now()
        )
        run = DatasetRun.objects.create(dataset=dataset, status=DatasetStatus.RUNNING, started_by=user)
        _update(dataset, status=DatasetStatus.RUNNING, stage=DatasetStage.DETECT, error="")
        publisher = ProgressPublisher(dataset_id=dataset.pk, dataset_name=dataset.name, user_id=dataset.created_by_id)
        publisher.update(status=DatasetStatus.RUNNING, stage=DatasetStage.DETECT, force=True)
        started = time.perf_counter()
        try:
            _run(dataset, run, publisher, started, hooks_inline)
        except IngestError as error:
            _fail(dataset, run, publisher, error.message, started)
        except (DatabaseError, psycopg.Error) as error:
            # psycopg's COPY errors reach us unwrapped by Django; both carry PostgreSQL's diagnostics.
            reason = _database_message(error)
            logger.warning("dataset %s: the database refused the load: %s", dataset.pk, reason)
            message = _("The database refused the data: %(error)s") % {"error": reason}
            _fail(dataset, run, publisher, message, started)
        except Exception:
            logger.exception("dataset %s: the load stopped on an unexpected error", dataset.pk)
            message = _("The load stopped on an unexpected error; the administrators can find it in the log.")
            _fail(dataset, run, publisher, message, started)
    dataset.refresh_from_db()
    return dataset


def _run(dataset: Dataset, run: DatasetRun, publisher: ProgressPublisher, started: float, hooks_inline: bool) -> None:
    schema = schema_for(dataset.kind)
    with _local_path(dataset.file) as path:
        detected = detect_file(path, kind=dataset.kind)
        _update(
            dataset,
            file_format=str(detected.file_format),
            encoding=detected.encoding,
            delimiter=detected.delimiter,
        )
        detect_seconds = time.perf_counter() - started
        mapping = resolve_mapping(
            schema=schema,
            headers=detected.headers,
            organization_id=dataset.organization_id,
            applied=dataset.mapping_used or None,
            applied_options=dataset_options(dataset),
            saved=dataset.column_mapping,
        )
        if not mapping.complete:
            _needs_mapping(dataset, run, publisher, mapping, started)
            return

        def finish_run(result: LoadResult) -> None:
            run.status = DatasetStatus.READY
            run.finished_at = timezone.now()
            run.stats = _run_stats(result, detect_seconds, started)
            run.save(update_fields=["status", "finished_at", "stats"])
            _notify(
                dataset,
                "dataset.ready",
                "success",
                format_lazy(
                    gettext_lazy("“{name}” is loaded: {loaded} rows, {quarantined} set aside."),
                    name=dataset.name,
                    loaded=result.rows_loaded,
                    quarantined=result.rows_quarantined,
                ),
            )
            dataset_id = dataset.pk
            # The page hears "loaded, 100 %" before the post-load stages start (they may run in this process).
            transaction.on_commit(
                lambda: publisher.update(
                    status=DatasetStatus.READY,
                    stage=DatasetStage.HOOKS,
                    percent=100,
                    rows_read=result.rows_read,
                    rows_loaded=result.rows_loaded,
                    rows_quarantined=result.rows_quarantined,
                    force=True,
                )
            )
            transaction.on_commit(lambda: _discard_upload(dataset_id))
            if hooks_inline:
                transaction.on_commit(lambda: dataset_post_load(dataset_id=dataset_id))
            else:
                from apps.datasets.tasks import dataset_post_load as post_load_task

                transaction.on_commit(lambda: post_load_task.delay(dataset_id))

        result = load(
            dataset=dataset,
            chunks=read_chunks(
                path, detected, kind=dataset.kind, chunk_rows=CHUNK_ROWS, filename=dataset.original_filename
            ),
            schema=schema,
            mapping=mapping,
            source_size=dataset.size_bytes,
            publisher=publisher,
            on_ready=finish_run,
        )
    # Said again once the load returns: when the commit is not the outermost one (a caller's transaction), the
    # commit-time message above comes only later.
    publisher.update(
        status=DatasetStatus.READY,
        stage=DatasetStage.HOOKS,
        percent=100,
        rows_read=result.rows_read,
        rows_loaded=result.rows_loaded,
        rows_quarantined=result.rows_quarantined,
        force=True,
    )


def _discard_upload(dataset_id: int) -> None:
    """Delete the stored upload of a loaded dataset: it holds personal data in clear and is no longer needed."""
    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.status == DatasetStatus.READY and dataset.file:
        dataset.file.delete(save=False)
        _update(dataset, file="")


def _run_stats(result: LoadResult, detect_seconds: float, started: float) -> dict[str, Any]:
    total = time.perf_counter() - started
    return {
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "seconds": {"detect": round(detect_seconds, 3), **result.timings, "run": round(total, 3)},
        "rows_per_second": round(result.rows_read / total) if total > 0 else None,
    }


def _update(dataset: Dataset, **values: Any) -> None:
    Dataset.objects.filter(pk=dataset.pk).update(**values, updated_at=timezone.now())
    for name, value in values.items():
        setattr(dataset, name, value)


def _needs_mapping(
    dataset: Dataset, run: DatasetRun, publisher: ProgressPublisher, mapping: ResolvedMapping, started: float
) -> None:
    _update(
        dataset,
        status=DatasetStatus.NEEDS_MAPPING,
        stage="",
        validation_report={"mapping": mapping_report(mapping)},
    )
    run.status = DatasetStatus.NEEDS_MAPPING
    run.finished_at = timezone.now()
    run.stats = {"seconds": {"run": round(time.perf_counter() - started, 3)}, "mapping": mapping_report(mapping)}
    run.save(update_fields=["status", "finished_at", "stats"])
    publisher.update(status=DatasetStatus.NEEDS_MAPPING, stage=DatasetStage.DETECT, force=True)
    _notify(
        dataset,
        "dataset.needs_mapping",
        "warning",
        format_lazy(gettext_lazy("“{name}”: some required columns were not recognised; map them."), name=dataset.name),
    )


def _fail(dataset: Dataset, run: DatasetRun, publisher: ProgressPublisher, message: str, started: float) -> None:
    _update(dataset, status=DatasetStatus.FAILED, stage="", error=message)
    DatasetRun.objects.filter(pk=run.pk).update(
        status=DatasetStatus.FAILED,
        error=message,
        finished_at=timezone.now(),
        stats={"seconds": {"run": round(time.perf_counter() - started, 3)}},
    )
    publisher.update(status=DatasetStatus.FAILED, force=True)
    _notify(
        dataset,
        "dataset.failed",
        "error",
        format_lazy(gettext_lazy("“{name}” could not be loaded: {error}"), name=dataset.name, error=message),
    )


def _database_message(error: DatabaseError | psycopg.Error) -> str:
    """PostgreSQL's one-line message without its detail, which quotes the row."""
    diag = getattr(error, "diag", None) or getattr(error.__cause__, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return str(primary)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _dataset_url(dataset: Dataset) -> str:
    return reverse("datasets:detail", args=[dataset.pk])


def _notify(dataset: Dataset, message_type: str, level: str, text: Any) -> None:
    if dataset.created_by_id is None:
        return
    notification_send_to_user(
        user_id=dataset.created_by_id,
        payload={
            "type": message_type,
            "level": level,
            "text": text,
            "dataset_id": dataset.pk,
            "url": _dataset_url(dataset),
        },
    )


def dataset_post_load(*, dataset_id: int) -> dict[str, dict[str, Any]]:
    """Hand a loaded dataset to the post-load hooks (``apps.datasets.hooks``) and record how each did."""
    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.status != DatasetStatus.READY:
        return {}
    _update(dataset, stage=DatasetStage.HOOKS)
    results = hooks.post_load_run(dataset_id)
    _update(dataset, stage=DatasetStage.DONE)
    run = dataset.runs.filter(status=DatasetStatus.READY).order_by("-started_at").first()
    if run is not None:
        run.stats = {**run.stats, "hooks": results}
        run.save(update_fields=["stats"])
    return results


def dataset_retry(*, dataset: Dataset, user: User | None) -> Dataset:
    """Queue a failed (or interrupted, or unmapped) dataset again; the run starts clean."""
    if dataset.status == DatasetStatus.READY:
        raise DomainError(_("This dataset is already loaded."))
    if dataset_is_loading(dataset=dataset):
        raise DomainError(_("This dataset is being loaded right now."))
    with transaction.atomic():
        _update(dataset, status=DatasetStatus.QUEUED, stage="", error="")
        _enqueue_on_commit(dataset, user)
    return dataset


def _file_headers(dataset: Dataset) -> list[str]:
    headers = dataset.validation_report.get("mapping", {}).get("headers")
    if headers:
        return list(headers)
    with _local_path(dataset.file) as path:
        return list(detect_file(path, kind=dataset.kind).headers)


def dataset_apply_mapping(
    *,
    dataset: Dataset,
    columns: Mapping[str, str],
    options: MappingOptions | None = None,
    save_as: str | None = None,
    user: User | None,
) -> Dataset:
    """Load a dataset with the investigator's mapping ({file header: field}; empty field = ignore the column) and
    its options (anonymised party codes, fixed values).

    ``save_as`` also saves the mapping (with its options) under that name for the organisation: later files with
    the same headers use it without asking.
    """
    options = options or MappingOptions()
    if dataset.status == DatasetStatus.READY:
        raise DomainError(_("This dataset is already loaded."))
    if dataset.status == DatasetStatus.RUNNING and dataset_is_loading(dataset=dataset):
        raise DomainError(_("This dataset is being loaded right now."))
    schema = schema_for(dataset.kind)
    headers = _file_headers(dataset)
    columns = {header: field_name for header, field_name in columns.items() if field_name}
    problems = mapping_problems(schema, headers, columns, options)
    missing = missing_required(schema, columns, options)
    if missing:
        labels = ", ".join(str(schema.field(name).label) for name in missing)
        problems.append(_("These required fields are not mapped: %(fields)s.") % {"fields": labels})
    if problems:
        raise DomainError(" ".join(problems))
    with transaction.atomic():
        saved = None
        if save_as:
            saved, _created = ColumnMapping.objects.update_or_create(
                organization=dataset.organization,
                kind=dataset.kind,
                name=save_as[:200],
                defaults={
                    "headers": normalized_headers(headers),
                    "columns": columns,
                    "options": options.as_json(),
                    "created_by": user,
                },
            )
        dataset.column_mapping = saved
        dataset.mapping_used = columns
        dataset.mapping_options = options.as_json()
        dataset.status = DatasetStatus.QUEUED
        dataset.stage = ""
        dataset.error = ""
        dataset.save(
            update_fields=[
                "column_mapping",
                "mapping_used",
                "mapping_options",
                "status",
                "stage",
                "error",
                "updated_at",
            ]
        )
        _enqueue_on_commit(dataset, user)
    return dataset
