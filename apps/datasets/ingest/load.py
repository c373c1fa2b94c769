"""Validated chunks → the Parquet archive and the record table, in one transaction per dataset.

Two threads share the work so that parsing overlaps loading on a two-core machine:

- the *producer* reads raw chunks, validates and masks them (pyarrow, which releases the GIL), appends the clean
  rows to the Parquet archive, and encodes them as CSV for ``COPY``;
- the *loader* (the calling thread, which owns the database connection) streams that CSV into one
  ``COPY … FROM STDIN`` while the server parses and indexes it on the other core.

A bounded queue between them keeps memory flat whatever the file size. The quarantined rows and the encrypted
clear values behind the run's PII tokens (``apps.privacy.vault``) follow in further ``COPY``s; then the archive
is stored and the dataset row updated to ready — all inside the same transaction, so a dataset is visible with
all of its rows or not at all. If anything fails, or the process is killed, the transaction rolls back and
nothing of the run remains but its run history.
"""

from __future__ import annotations

import io
import json
import os
import queue
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone, translation

from apps.datasets.ingest.mapping import ResolvedMapping
from apps.datasets.ingest.progress import ProgressPublisher
from apps.datasets.ingest.schemas import FieldType, KindSchema, model_column
from apps.datasets.ingest.types import RawChunk
from apps.datasets.ingest.validate import ChunkValidator, ValidatedChunk
from apps.datasets.models import Dataset, DatasetStage, DatasetStatus, QuarantinedRow
from apps.privacy.models import PIIVaultEntry
from apps.privacy.vault import TokenLedger, encrypt, recording_tokens

# Chunks waiting between the producer and the loader; each is a few tens of megabytes of CSV.
QUEUE_CHUNKS = 2
PARQUET_COMPRESSION = "zstd"
_DONE = object()


@dataclass
class LoadResult:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Seconds spent in each step; read/validate/archive/encode overlap with copy.
    timings: dict[str, float] = field(default_factory=dict)
    parquet_name: str = ""


def parquet_name(dataset: Dataset) -> str:
    return f"datasets/parquet/{dataset.organization_id}/{dataset.pk}.parquet"


def record_copy_columns(schema: KindSchema) -> list[str]:
    model = schema.model
    return ["organization_id", "dataset_id", "row_number"] + [
        model_column(model, spec.name).column for spec in schema.fields
    ]


def _constant(value: int, length: int) -> pa.Array:
    return pa.array(np.full(length, value, dtype=np.int64))


def _json_lists(values: pa.Array) -> pa.Array:
    return pa.array(
        [json.dumps(items or [], ensure_ascii=False) for items in values.to_pylist()],
        type=pa.string(),
    )


def copy_csv(records: pa.Table, *, schema: KindSchema, organization_id: int, dataset_id: int) -> bytes:
    """Clean rows as the CSV ``COPY`` reads: unquoted empty is NULL, ``""`` an empty string."""
    length = records.num_rows
    arrays: list[pa.Array] = [
        _constant(organization_id, length),
        _constant(dataset_id, length),
        records.column("row_number"),
    ]
    for spec in schema.fields:
        values = records.column(spec.name)
        if spec.type is FieldType.LIST:
            values = _json_lists(values.combine_chunks())
        elif pa.types.is_string(values.type) and not spec.nullable:
            values = pc.fill_null(values, "")
        arrays.append(values)
    sink = io.BytesIO()
    table = pa.Table.from_arrays(arrays, names=[str(index) for index in range(len(arrays))])
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def quarantine_csv(quarantine: pa.Table, *, dataset_id: int) -> bytes:
    table = pa.Table.from_arrays(
        [_constant(dataset_id, quarantine.num_rows), *(pc.fill_null(column, "") for column in quarantine.columns[1:])],
        names=["dataset_id", "rule", "field", "reason", "raw"],
    )
    table = table.add_column(1, "row_number", quarantine.column("row_number"))
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


@dataclass
class _Encoded:
    records_csv: bytes
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    source_bytes: int


class _Producer(threading.Thread):
    """Reads, validates, masks, archives and encodes; hands CSV to the loader through a bounded queue."""

    def __init__(
        self,
        *,
        chunks: Iterable[RawChunk],
        validator: ChunkValidator,
        schema: KindSchema,
        dataset: Dataset,
        parquet_path: str,
        quarantine_file: IO[bytes],
        vault_file: IO[bytes],
        result: LoadResult,
    ) -> None:
        super().__init__(name=f"dataset-{dataset.pk}-producer", daemon=True)
        self.chunks = chunks
        self.validator = validator
        self.schema = schema
        self.dataset = dataset
        self.parquet_path = parquet_path
        self.quarantine_file = quarantine_file
        self.vault_file = vault_file
        self.result = result
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.stop = threading.Event()
        self.language = translation.get_language()
        self.timings: defaultdict[str, float] = defaultdict(float)

    def _put(self, item: object) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        try:
            with translation.override(self.language), recording_tokens() as ledger:
                self._produce(ledger)
        except BaseException as error:  # noqa: BLE001 - handed to the loader thread, which re-raises it
            self._put(error)
        else:
            self._put(_DONE)

    def _timed(self, step: str, started: float) -> float:
        now = time.perf_counter()
        self.timings[step] += now - started
        return now

    def _produce(self, ledger: TokenLedger) -> None:
        writer = pq.ParquetWriter(self.parquet_path, self.validator.output_schema, compression=PARQUET_COMPRESSION)
        try:
            iterator: Iterator[RawChunk] = iter(self.chunks)
            while not self.stop.is_set():
                started = time.perf_counter()
                chunk = next(iterator, None)
                started = self._timed("read", started)
                if chunk is None:
                    break
                validated: ValidatedChunk = self.validator.validate(chunk)
                started = self._timed("validate_mask", started)
                writer.write_table(validated.records)
                started = self._timed("archive", started)
                records_csv = copy_csv(
                    validated.records,
                    schema=self.schema,
                    organization_id=self.dataset.organization_id,
                    dataset_id=self.dataset.pk,
                )
                if validated.quarantine.num_rows:
                    self.quarantine_file.write(quarantine_csv(validated.quarantine, dataset_id=self.dataset.pk))
                started = self._timed("encode", started)
                if entries := ledger.drain():
                    self.vault_file.write(vault_csv(entries))
                self._timed("vault", started)
                self.result.failures.update(validated.failures)
                self._put(
                    _Encoded(
                        records_csv=records_csv,
                        rows_read=validated.rows_read,
                        rows_loaded=validated.records.num_rows,
                        rows_quarantined=validated.quarantine.num_rows,
                        source_bytes=_source_bytes(chunk),
                    )
                )
        finally:
            writer.close()


def _source_bytes(chunk: RawChunk) -> int:
    """About how many bytes of the file a chunk came from: its text plus a separator per cell."""
    table = chunk.table
    text = sum(pc.sum(pc.binary_length(column)).as_py() or 0 for column in table.columns)
    return int(text + table.num_rows * max(table.num_columns, 1))


def load(
    *,
    dataset: Dataset,
    chunks: Iterable[RawChunk],
    schema: KindSchema,
    mapping: ResolvedMapping,
    source_size: int,
    publisher: ProgressPublisher,
    on_ready: Callable[[LoadResult], None] | None = None,
) -> LoadResult:
    """Validate, mask, archive and load every chunk; the dataset is ``ready`` when this returns.

    Raises whatever stopped the load (``IngestError`` from a reader, ``DatabaseError`` from PostgreSQL); the
    transaction is then rolled back and the caller records the failure.
    """
    result = LoadResult()
    validator = ChunkValidator(schema=schema, columns=mapping.columns, options=mapping.options)
    table = schema.model._meta.db_table
    copy_columns = ", ".join(connection.ops.quote_name(column) for column in record_copy_columns(schema))
    quarantine_table = QuarantinedRow._meta.db_table
    started = time.perf_counter()
    parquet_fd, parquet_path = tempfile.mkstemp(prefix=f"dataset-{dataset.pk}-", suffix=".parquet")
    os.close(parquet_fd)
    stored_parquet = ""
    try:
        with (
            tempfile.TemporaryFile(prefix=f"dataset-{dataset.pk}-quarantine-") as quarantine_file,
            tempfile.TemporaryFile(prefix=f"dataset-{dataset.pk}-vault-") as vault_file,
        ):
            producer = _Producer(
                chunks=chunks,
                validator=validator,
                schema=schema,
                dataset=dataset,
                parquet_path=parquet_path,
                quarantine_file=quarantine_file,
                vault_file=vault_file,
                result=result,
            )
            publisher.update(stage=DatasetStage.PARSE, force=True)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # A run that died before committing left nothing, but a rerun must never count on that.
                    cursor.execute(f"DELETE FROM {table} WHERE dataset_id = %s", [dataset.pk])  # noqa: S608
                    cursor.execute(f"DELETE FROM {quarantine_table} WHERE dataset_id = %s", [dataset.pk])  # noqa: S608
                    producer.start()
                    copy_seconds = 0.0
                    source_bytes = 0
                    try:
                        with cursor.copy(f"COPY {table} ({copy_columns}) FROM STDIN (FORMAT csv)") as copy:
                            while True:
                                item = producer.queue.get()
                                if item is _DONE:
                                    break
                                if isinstance(item, BaseException):
                                    raise item
                                copy_started = time.perf_counter()
                                copy.write(item.records_csv)
                                copy_seconds += time.perf_counter() - copy_started
                                result.rows_read += item.rows_read
                                result.rows_loaded += item.rows_loaded
                                result.rows_quarantined += item.rows_quarantined
                                source_bytes += item.source_bytes
                                publisher.update(
                                    stage=DatasetStage.LOAD,
                                    percent=min(99, int(100 * source_bytes / max(source_size, 1))),
                                    rows_read=result.rows_read,
                                    rows_loaded=result.rows_loaded,
                                    rows_quarantined=result.rows_quarantined,
                                )
                    finally:
                        producer.stop.set()
                        producer.join()
                    result.timings["copy_wait"] = round(time.perf_counter() - started, 3)
                    result.timings["copy_write"] = round(copy_seconds, 3)
                    result.timings.update({step: round(seconds, 3) for step, seconds in producer.timings.items()})

                    finishing = time.perf_counter()
                    publisher.update(stage=DatasetStage.ARCHIVE, percent=99, force=True)
                    if result.rows_quarantined:
                        quarantine_file.seek(0)
                        with cursor.copy(
                            f"COPY {quarantine_table} (dataset_id, row_number, rule, field, reason, raw) "
                            "FROM STDIN (FORMAT csv)"
                        ) as copy:
                            while data := quarantine_file.read(1 << 20):
                                copy.write(data)
                    _store_vault(cursor, vault_file, dataset)
                stored_parquet = _store_parquet(dataset, parquet_path)
                result.parquet_name = stored_parquet
                _mark_ready(dataset, result, mapping)
                if on_ready is not None:
                    on_ready(result)
                result.timings["finish"] = round(time.perf_counter() - finishing, 3)
    except BaseException:
        if stored_parquet:
            default_storage.delete(stored_parquet)
        raise
    finally:
        if os.path.exists(parquet_path):
            os.unlink(parquet_path)
    result.timings["total"] = round(time.perf_counter() - started, 3)
    return result


def vault_csv(entries: list[tuple[str, str, str]]) -> bytes:
    """COPY lines of encrypted personal values: token, kind, ciphertext as bytea hex."""
    return "".join(f"{token},{kind},\\x{encrypt(token, value).hex()}\n" for token, kind, value in entries).encode()


def _store_vault(cursor: CursorWrapper, vault_file: IO[bytes], dataset: Dataset) -> None:
    """The run's personal values into the organisation's vault; values it already holds are kept as they are."""
    if not vault_file.tell():
        return
    vault_file.seek(0)
    incoming = f"dataset_{dataset.pk}_vault_incoming"
    cursor.execute(f"CREATE TEMPORARY TABLE {incoming} (token text, kind text, ciphertext bytea)")
    with cursor.copy(f"COPY {incoming} (token, kind, ciphertext) FROM STDIN (FORMAT csv)") as copy:
        while data := vault_file.read(1 << 20):
            copy.write(data)
    cursor.execute(
        f"INSERT INTO {PIIVaultEntry._meta.db_table} (organization_id, token, kind, ciphertext, created_at) "  # noqa: S608
        f"SELECT %s, token, kind, ciphertext, now() FROM {incoming} "
        "ON CONFLICT (organization_id, token) DO NOTHING",
        [dataset.organization_id],
    )
    cursor.execute(f"DROP TABLE {incoming}")


def _store_parquet(dataset: Dataset, path: str) -> str:
    name = parquet_name(dataset)
    # A killed run may have stored its archive before dying; this run's archive replaces it.
    if default_storage.exists(name):
        default_storage.delete(name)
    with open(path, "rb") as archive:
        return default_storage.save(name, File(archive, name=os.path.basename(name)))


def _mark_ready(dataset: Dataset, result: LoadResult, mapping: ResolvedMapping) -> None:
    dataset.status = DatasetStatus.READY
    dataset.stage = DatasetStage.HOOKS
    dataset.rows_total = result.rows_read
    dataset.rows_loaded = result.rows_loaded
    dataset.rows_quarantined = result.rows_quarantined
    dataset.validation_report = validation_report(result, mapping)
    dataset.mapping_used = mapping.columns
    dataset.mapping_options = mapping.options.as_json()
    dataset.column_mapping = mapping.saved_mapping or dataset.column_mapping
    dataset.parquet_file.name = result.parquet_name
    dataset.error = ""
    dataset.ready_at = timezone.now()
    dataset.save()


def validation_report(result: LoadResult, mapping: ResolvedMapping) -> dict[str, Any]:
    """What the dataset page shows: counts, every (rule, field) that quarantined rows, the mapping."""
    return {
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "failures": [
            {"rule": rule, "field": field_name, "rows": count}
            for (rule, field_name), count in sorted(result.failures.items(), key=lambda item: (-item[1], item[0]))
        ],
        "mapping": mapping_report(mapping),
    }


def mapping_report(mapping: ResolvedMapping) -> dict[str, Any]:
    return {
        "source": mapping.source.value,
        "saved_mapping": mapping.saved_mapping.name if mapping.saved_mapping else "",
        "headers": list(mapping.headers),
        "columns": mapping.columns,
        "options": mapping.options.as_json(),
        "unmapped_headers": list(mapping.unmapped_headers),
        "missing_required": list(mapping.missing_required),
    }
