"""Entity resolution benchmark: speed and quality on generated data with a known answer (docs/performance.md)."""

from __future__ import annotations

import os
import platform
import time
from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from apps.accounts.models import Organization
from apps.datasets import services as dataset_services
from apps.datasets.hooks import post_load_hooks, register_post_load, unregister_post_load
from apps.datasets.models import DatasetSource, RecordKind
from apps.entities.models import Entity, EntityMention, MatchCandidate, Relationship
from apps.entities.quality import evaluate
from apps.entities.resolution import resolve_dataset
from nexus.embedded import VAR_DIR

FILES = (
    ("declarations.csv", RecordKind.CUSTOMS_DECLARATION),
    ("tax_invoices.csv", RecordKind.TAX_INVOICE),
    ("registry_companies.csv", RecordKind.REGISTRY_COMPANY),
    ("registry_persons.csv", RecordKind.REGISTRY_PERSON),
)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, {platform.system()} {platform.release()}"


def _stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name, or None: field 4 of stat(5) is [1], utime [11], cutime [13]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds() -> tuple[float, float | None]:
    """CPU seconds used so far by this process and by the database server (``None`` when it is not on this
    machine): on a busy machine the wall clock measures the neighbours too, the CPU time does not.

    The server's is its whole process tree (backend, parallel workers, autovacuum, WAL writer, checkpointer): the
    postmaster's own and its reaped children's time plus that of the children alive now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    backend_stat = _stat(backend)
    postmaster = backend_stat[1] if backend_stat else None
    postmaster_stat = _stat(postmaster) if postmaster else None
    if postmaster_stat is None:
        return time.process_time(), None
    ticks = sum(int(value) for value in postmaster_stat[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(entry.name)
            if child is not None and child[1] == postmaster:
                ticks += int(child[11]) + int(child[12])
    return time.process_time(), ticks / os.sysconf("SC_CLK_TCK")


def _cpu_text(before: tuple[float, float | None], after: tuple[float, float | None]) -> str:
    python = after[0] - before[0]
    if before[1] is None or after[1] is None:
        return f"Python {python:.1f} s"
    database = after[1] - before[1]
    return f"Python {python:.1f} s + database {database:.1f} s = {python + database:.1f} s"


class Command(BaseCommand):
    help = (
        "Generate customs data with a known answer, load it (declarations, invoices, registers) into a fresh "
        "organisation, resolve every dataset as the post-load hook would, time it, and score the result against "
        "the ground truth (pairwise precision, recall, F1)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--rows", type=int, default=170_000, help="Declarations to generate (170,000 ≈ 100,000 parties)."
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--data", type=Path, help="Generated data to reuse (default: var/benchmark-er-<rows>).")
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark organisation afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows: int = options["rows"]
        data: Path = options["data"] or VAR_DIR / f"benchmark-er-{rows}-{options['seed']}"
        if not (data / "manifest.json").exists():
            self.stdout.write(f"generating {rows:,} declarations into {data} …")
            call_command("generate_customs", rows=rows, seed=options["seed"], out=data, verbosity=0)
        organization = Organization.objects.create(
            name=f"ER benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}", slug=f"er-benchmark-{int(time.time())}"
        )
        saved_hooks = post_load_hooks()
        for name, _ in saved_hooks:
            unregister_post_load(name)
        try:
            self._run(organization, data)
        finally:
            for name, hook in saved_hooks:
                register_post_load(name, hook)
            if not options["keep"]:
                self._remove(organization)

    def _run(self, organization: Organization, data: Path) -> None:
        self.stdout.write(f"machine: {machine()}; date {date.today().isoformat()}")
        datasets = []
        for filename, kind in FILES:
            started = time.perf_counter()
            with (data / filename).open("rb") as handle:
                result = dataset_services.dataset_create(
                    organization=organization,
                    user=None,
                    file=File(handle, name=filename),
                    name=filename,
                    kind=kind,
                    source=DatasetSource.COMMAND,
                    enqueue=False,
                )
            dataset = dataset_services.dataset_run(dataset_id=result.dataset.pk, hooks_inline=True)
            self.stdout.write(
                f"loaded {filename}: {dataset.rows_loaded:,} rows in {time.perf_counter() - started:.1f} s"
            )
            datasets.append(dataset)
        total_parties = 0
        started = time.perf_counter()
        cpu_started = cpu_seconds()
        for dataset in datasets:
            dataset_cpu = cpu_seconds()
            stats = resolve_dataset(dataset_id=dataset.pk)
            total_parties += stats.parties
            steps = ", ".join(f"{step} {seconds:.2f}" for step, seconds in stats.seconds.items())
            self.stdout.write(
                f"resolved {dataset.name}: {stats.parties:,} party mentions, {stats.entities_created:,} new entities, "
                f"{stats.review:,} to review, {stats.merged:,} merges — {steps} s; "
                f"CPU {_cpu_text(dataset_cpu, cpu_seconds())}"
            )
        elapsed = time.perf_counter() - started
        self.stdout.write(f"CPU time of the resolution: {_cpu_text(cpu_started, cpu_seconds())}")
        entities = Entity.objects.filter(organization=organization, merged_into__isnull=True).count()
        relationships = Relationship.objects.filter(organization=organization).count()
        results = evaluate(organization_id=organization.pk, ground_truth=data / "ground_truth")
        distinct = results["all"].items
        self.stdout.write(
            f"\nresolution: {distinct:,} distinct parties ({total_parties:,} mentions in records) → "
            f"{entities:,} entities, "
            f"{relationships:,} relationships, {MatchCandidate.objects.filter(organization=organization).count():,} "
            f"review candidates, in {elapsed:.1f} s (target ≤ 60 s for 100,000 parties)\n"
        )
        self.stdout.write(f"{'group':<18}{'items':>9}{'true':>9}{'found':>9}{'precision':>11}{'recall':>9}{'F1':>8}")
        for group, metrics in results.items():
            self.stdout.write(
                f"{group:<18}{metrics.items:>9,}{metrics.entities_true:>9,}{metrics.entities_predicted:>9,}"
                f"{metrics.precision:>11.4f}{metrics.recall:>9.4f}{metrics.f1:>8.4f}"
            )
        self.stdout.write(f"target: F1 ≥ 0.95 overall — {'met' if results['all'].f1 >= 0.95 else 'NOT met'}")

    def _remove(self, organization: Organization) -> None:
        with connection.cursor() as cursor:
            for table in ("entities_entitymention", "entities_relationship"):
                cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])  # noqa: S608
        EntityMention.objects.filter(organization=organization).delete()
        organization.delete()
