"""The ingestion benchmark (docs/performance.md): a ~600 MB declarations file in, end to end, against plain COPY."""

from __future__ import annotations

import csv
import datetime
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.accounts.models import Organization
from apps.datasets import services
from apps.datasets.models import CustomsDeclaration, Dataset, DatasetSource, DatasetStatus, RecordKind
from apps.privacy.models import PIIVaultEntry

BENCHMARK_ORGANIZATION = "ingest-benchmark"
PLAIN_TABLE = "benchmark_plain_copy"
# About 480 bytes a row: 1,250,000 rows make the 600 MB file of the benchmark.
DEFAULT_ROWS = 1_250_000
COPY_BLOCK_BYTES = 1 << 20


def peak_memory_mb() -> float:
    """Peak resident memory of this process, in MB (Linux reports kilobytes). The pipeline runs in it; the
    generator runs in a child, whose memory is not counted."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = (
        "Generate ~600 MB of synthetic customs declarations, ingest them end to end (parse, validate, mask, "
        "Parquet, PostgreSQL; until the dataset is ready) and compare with a plain COPY of the same file into an "
        "unindexed all-text table. Prints time, throughput and peak memory."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"Declarations (default {DEFAULT_ROWS:,}).")
        parser.add_argument("--seed", type=int, default=1, help="Generator seed (default 1).")
        parser.add_argument("--keep", action="store_true", help="Keep the generated files and the loaded dataset.")
        parser.add_argument("--out", type=Path, help="Directory for the generated files (default: a temporary one).")

    def handle(self, *args: Any, **options: Any) -> None:
        temporary = options["out"] is None
        out: Path = options["out"] or Path(tempfile.mkdtemp(prefix="nexus-benchmark-"))
        try:
            self._run(out, options)
        finally:
            # Only a directory the benchmark made is removed; a given --out keeps its file for the next run.
            if temporary and not options["keep"]:
                shutil.rmtree(out, ignore_errors=True)

    def _run(self, out: Path, options: dict[str, Any]) -> None:
        path = out / "declarations.csv"
        if not path.exists():
            self.stdout.write(f"Generating {options['rows']:,} declarations into {out} …")
            # In a child process, so that the generator's memory is not counted as the pipeline's.
            subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
                [sys.executable, "manage.py", "generate_customs", "--rows", str(options["rows"]), "--seed",
                 str(options["seed"]), "--out", str(out), "--verbosity", "0"],
                check=True,
                cwd=settings.BASE_DIR,
            )  # fmt: skip
        size_mb = path.stat().st_size / 1e6
        organization, _created = Organization.objects.get_or_create(
            slug=BENCHMARK_ORGANIZATION, defaults={"name": "Ingestion benchmark"}
        )
        self._forget_previous(organization)

        self.stdout.write(f"Ingesting {path.name} ({size_mb:,.0f} MB) …")
        started = time.perf_counter()
        dataset = self._ingest(path, organization)
        elapsed = time.perf_counter() - started
        peak_mb = peak_memory_mb()
        if dataset.status != DatasetStatus.READY:
            raise CommandError(f"the dataset did not load: {dataset.status} {dataset.error}")
        visible = CustomsDeclaration.objects.filter(dataset=dataset).count()

        self.stdout.write("Plain COPY of the same file into an unindexed all-text table …")
        copy_seconds = self._plain_copy(path)

        run = dataset.runs.filter(status=DatasetStatus.READY).first()
        steps = run.stats.get("seconds", {}) if run is not None else {}
        rows = [
            ("date", datetime.date.today().isoformat()),
            ("machine", f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}"),
            ("file", f"{size_mb:,.0f} MB, {dataset.rows_total:,} rows"),
            ("rows loaded / quarantined", f"{dataset.rows_loaded:,} / {dataset.rows_quarantined:,}"),
            ("rows visible after commit", f"{visible:,}"),
            ("end to end (store, hash, parse, validate, mask, Parquet, COPY, commit)", f"{elapsed:.1f} s"),
            ("throughput", f"{size_mb / elapsed:.1f} MB/s, {dataset.rows_total / elapsed:,.0f} rows/s"),
            ("peak memory of the pipeline (RSS)", f"{peak_mb:,.0f} MB"),
            ("plain COPY into an unindexed text table", f"{copy_seconds:.1f} s"),
            ("ratio end to end / plain COPY", f"{elapsed / copy_seconds:.2f}"),
            ("steps (s; read to encode overlap the COPY)", ", ".join(f"{k} {v}" for k, v in steps.items())),
        ]
        width = max(len(label) for label, _value in rows)
        self.stdout.write("")
        for label, value in rows:
            self.stdout.write(f"{label:<{width}}  {value}")
        if not options["keep"]:
            self._forget_previous(organization)

    def _ingest(self, path: Path, organization: Organization) -> Dataset:
        with path.open("rb") as handle:
            result = services.dataset_create(
                organization=organization,
                user=None,
                file=File(handle, name=path.name),
                name=f"Benchmark {path.name}",
                kind=RecordKind.CUSTOMS_DECLARATION,
                source=DatasetSource.COMMAND,
                enqueue=False,
            )
        return services.dataset_run(dataset_id=result.dataset.pk, hooks_inline=True)

    def _forget_previous(self, organization: Organization) -> None:
        datasets = list(Dataset.objects.filter(organization=organization))
        for dataset in datasets:
            dataset.file.delete(save=False)
            if dataset.parquet_file:
                dataset.parquet_file.delete(save=False)
            dataset.delete()
        # The vault keeps an organisation's personal values across datasets; each run must store its own.
        PIIVaultEntry.objects.filter(organization=organization).delete()
        if datasets:
            # Otherwise autovacuum cleans up the deleted rows during the next measurement and slows it down.
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM {CustomsDeclaration._meta.db_table}")

    def _plain_copy(self, path: Path) -> float:
        """Seconds to COPY the file as it is into a fresh table of text columns, no index, committed."""
        with path.open(encoding="utf-8", newline="") as handle:
            columns = len(next(csv.reader(handle)))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {PLAIN_TABLE}")
            cursor.execute(f"CREATE TABLE {PLAIN_TABLE} ({', '.join(f'c{index} text' for index in range(columns))})")
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            path.open("rb") as handle,
            cursor.copy(f"COPY {PLAIN_TABLE} FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while block := handle.read(COPY_BLOCK_BYTES):
                copy.write(block)
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {PLAIN_TABLE}")
        return seconds
