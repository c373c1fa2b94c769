"""The graph benchmark (docs/performance.md): 2-hop neighbourhoods and the analytics on a million relationships."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.accounts.models import Organization
from apps.entities.graph import entity_neighbourhood, graph_analyze, shortest_path
from apps.entities.models import Entity, EntityKind, GraphAnalysis, GraphCycle, Relationship, RelationshipKind

BENCHMARK_ORGANIZATION = "graph-benchmark"
DEFAULT_RELATIONSHIPS = 1_000_000
DEFAULT_QUERIES = 200
WARM_UP_QUERIES = 20
PATH_QUERIES = 20
# Entities per relationship: a million relationships link 300,000 entities.
ENTITIES_PER_RELATIONSHIP = 0.3
# Chung–Lu weights from a Pareto law of this shape give degrees falling off as k^-2.5, as in company registers and
# trade networks: most entities have a handful of links, a few (mass-registration addresses, big traders) thousands.
PARETO_SHAPE = 1.5
HISTORY_DAYS = 730

ENTITY_KINDS = {
    EntityKind.COMPANY: 0.55,
    EntityKind.PERSON: 0.25,
    EntityKind.ADDRESS: 0.08,
    EntityKind.ACCOUNT: 0.05,
    EntityKind.PHONE: 0.04,
    EntityKind.BROKER: 0.02,
    EntityKind.VEHICLE: 0.01,
}
PERSONAL_KINDS = {EntityKind.PERSON, EntityKind.PHONE, EntityKind.ACCOUNT}
RELATIONSHIP_KINDS = {
    RelationshipKind.TRADES_WITH: 0.22,
    RelationshipKind.INVOICES: 0.20,
    RelationshipKind.DIRECTOR_OF: 0.10,
    RelationshipKind.FOUNDER_OF: 0.08,
    RelationshipKind.OWNER_OF: 0.05,
    RelationshipKind.SHARES_ADDRESS: 0.07,
    RelationshipKind.LOCATED_AT: 0.12,
    RelationshipKind.BROKERED_FOR: 0.08,
    RelationshipKind.MENTIONED_WITH: 0.08,
}
MONEY_KINDS = {RelationshipKind.TRADES_WITH, RelationshipKind.INVOICES}

IntArray = npt.NDArray[np.int64]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


class Command(BaseCommand):
    help = (
        "Generate a power-law graph of --relationships relationships (about 0.3 entities per relationship) in a "
        "benchmark organisation, time 2-hop entity neighbourhoods of random entities and the graph analytics, "
        "then delete it (unless --keep)."
    )

    # COPY and commit time of the current run, apart from generating the rows.
    _copy_seconds = 0.0

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--relationships",
            type=int,
            default=DEFAULT_RELATIONSHIPS,
            help=f"Relationships (default {DEFAULT_RELATIONSHIPS:,}).",
        )
        parser.add_argument(
            "--queries", type=int, default=DEFAULT_QUERIES, help=f"Timed neighbourhoods (default {DEFAULT_QUERIES})."
        )
        parser.add_argument("--seed", type=int, default=1, help="Generator seed (default 1).")
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark organisation's graph.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["relationships"] < 1_000 or options["queries"] < 1:
            raise CommandError("--relationships must be at least 1,000 and --queries at least 1")
        organization, _created = Organization.objects.get_or_create(
            slug=BENCHMARK_ORGANIZATION, defaults={"name": "Graph benchmark"}
        )
        self._forget(organization)
        rng = np.random.default_rng(options["seed"])
        self._line("date", datetime.date.today().isoformat())
        self._line("machine", f"{os.cpu_count()} CPUs, {cpu_model()}, {platform.system()} {platform.release()}")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            self._line("PostgreSQL", cursor.fetchone()[0])

        started = time.perf_counter()
        self._copy_seconds = 0.0
        entity_ids = self._load_entities(organization, round(options["relationships"] * ENTITIES_PER_RELATIONSHIP), rng)
        relationships = self._load_relationships(organization, entity_ids, options["relationships"], rng)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Entity._meta.db_table}")
            cursor.execute(f"ANALYZE {Relationship._meta.db_table}")
        self._line(
            "generated and loaded (COPY, ANALYZE)",
            f"{len(entity_ids):,} entities, {relationships:,} relationships in {time.perf_counter() - started:.1f} s "
            f"(COPY and commit {self._copy_seconds:.1f} s)",
        )
        try:
            self._time_neighbourhoods(organization, options["queries"], rng)
            self._time_paths(organization, rng)
            self._time_analysis(organization)
        finally:
            if not options["keep"]:
                self._forget(organization)
                organization.delete()

    def _line(self, label: str, value: str) -> None:
        self.stdout.write(f"{label:<40}  {value}")

    def _load_entities(self, organization: Organization, count: int, rng: np.random.Generator) -> IntArray:
        kinds = rng.choice(list(ENTITY_KINDS), size=count, p=list(ENTITY_KINDS.values()))
        mentions = np.minimum(rng.zipf(2.0, size=count), 100_000)
        now = datetime.datetime.now(tz=datetime.UTC).isoformat()
        lines = []
        for index, (kind, mention_count) in enumerate(zip(kinds.tolist(), mentions.tolist(), strict=True)):
            personal = kind in PERSONAL_KINDS
            name = f"PII-name-BENCH{index:012X}" if personal else f"Бенчмарк {kind} {index}"
            lines.append(
                f"{now}\t{now}\t{organization.pk}\t{kind}\t{name}\tUA\t{'t' if personal else 'f'}\t{{}}\t"
                f"{mention_count}\t0\t0\t0\n"
            )
        copy_started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.copy(
                f"COPY {Entity._meta.db_table} (created_at, updated_at, organization_id, kind, name, country, is_pii, "
                "attributes, mention_count, degree, betweenness, pagerank) FROM STDIN"
            ) as copy:
                copy.write("".join(lines))
            cursor.execute(
                f"SELECT id FROM {Entity._meta.db_table} WHERE organization_id = %s ORDER BY id",  # noqa: S608 - a constant
                [organization.pk],
            )
            ids = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
        self._copy_seconds += time.perf_counter() - copy_started
        return ids

    def _load_relationships(
        self, organization: Organization, entity_ids: IntArray, count: int, rng: np.random.Generator
    ) -> int:
        """``count`` distinct relationships between entities drawn by Chung–Lu weights, kinds mixed, over two
        years; sampled in rounds until enough survive the removal of self-links and duplicates."""
        nodes = len(entity_ids)
        weights = rng.pareto(PARETO_SHAPE, size=nodes) + 1
        probabilities = weights / weights.sum()
        kind_names = list(RELATIONSHIP_KINDS)
        keys = np.zeros(0, dtype=np.int64)
        while len(keys) < count:
            wanted = int((count - len(keys)) * 1.2) + 1000
            sources = rng.choice(nodes, size=wanted, p=probabilities)
            targets = rng.choice(nodes, size=wanted, p=probabilities)
            kinds = rng.choice(len(kind_names), size=wanted, p=list(RELATIONSHIP_KINDS.values()))
            drawn = (kinds * nodes + sources) * nodes + targets
            drawn = drawn[sources != targets]
            keys = np.unique(np.concatenate((keys, drawn)))
        # In key order (kind, source, target): most of the table's indexes then fill almost sequentially.
        keys = np.sort(rng.choice(keys, size=count, replace=False))
        kinds, rest = np.divmod(keys, nodes * nodes)
        sources, targets = np.divmod(rest, nodes)

        end = datetime.date.today()
        start = end - datetime.timedelta(days=HISTORY_DAYS)
        first = rng.integers(0, HISTORY_DAYS, size=count)
        last = np.minimum(first + rng.geometric(1 / 90, size=count), HISTORY_DAYS)
        record_counts = np.minimum(rng.zipf(2.2, size=count), 10_000)
        amounts = record_counts * np.round(rng.lognormal(11, 1.5, size=count), 2)
        days = [(start + datetime.timedelta(days=day)).isoformat() for day in range(HISTORY_DAYS + 1)]
        money = {index for index, kind in enumerate(kind_names) if kind in MONEY_KINDS}
        lines = [
            f"{organization.pk}\t{kind_names[kind]}\t{entity_ids[source]}\t{entity_ids[target]}\t{days[first_day]}\t"
            f"{days[last_day]}\t{record_count}\t{f'{amount:.2f}' if kind in money else chr(92) + 'N'}\n"
            for kind, source, target, first_day, last_day, record_count, amount in zip(
                kinds.tolist(),
                sources.tolist(),
                targets.tolist(),
                first.tolist(),
                last.tolist(),
                record_counts.tolist(),
                amounts.tolist(),
                strict=True,
            )
        ]
        copy_started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.copy(
                f"COPY {Relationship._meta.db_table} (organization_id, kind, source_id, target_id, first_date, "
                "last_date, record_count, amount_uah) FROM STDIN"
            ) as copy,
        ):
            for block in range(0, count, 100_000):
                copy.write("".join(lines[block : block + 100_000]))
        self._copy_seconds += time.perf_counter() - copy_started
        return count

    def _time_neighbourhoods(self, organization: Organization, queries: int, rng: np.random.Generator) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT source_id FROM {Relationship._meta.db_table} WHERE organization_id = %s "  # noqa: S608 - a constant
                f"UNION SELECT target_id FROM {Relationship._meta.db_table} WHERE organization_id = %s",
                [organization.pk, organization.pk],
            )
            linked = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
        centres = rng.choice(linked, size=WARM_UP_QUERIES + queries).tolist()
        for entity_id in centres[:WARM_UP_QUERIES]:
            entity_neighbourhood(organization_id=organization.pk, entity_id=entity_id)
        milliseconds, node_counts, edge_counts, truncated = [], [], [], 0
        for entity_id in centres[WARM_UP_QUERIES:]:
            started = time.perf_counter()
            result = entity_neighbourhood(organization_id=organization.pk, entity_id=entity_id)
            milliseconds.append((time.perf_counter() - started) * 1000)
            node_counts.append(len(result.nodes))
            edge_counts.append(len(result.edges))
            truncated += result.truncated
        self._line(
            f"2-hop neighbourhood, {queries} random entities",
            f"p50 {percentile(milliseconds, 0.5):.1f} ms, p95 {percentile(milliseconds, 0.95):.1f} ms, "
            f"p99 {percentile(milliseconds, 0.99):.1f} ms, max {max(milliseconds):.1f} ms "
            f"(after {WARM_UP_QUERIES} untimed)",
        )
        self._line(
            "  nodes returned",
            f"median {statistics.median(node_counts):.0f}, max {max(node_counts)}; truncated at the limit: "
            f"{truncated} of {queries}",
        )
        self._line("  edges returned", f"median {statistics.median(edge_counts):.0f}, max {max(edge_counts)}")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT source_id FROM {Relationship._meta.db_table} WHERE organization_id = %s "  # noqa: S608 - a constant
                "GROUP BY source_id ORDER BY count(*) DESC LIMIT 1",
                [organization.pk],
            )
            hub_id = cursor.fetchone()[0]
        started = time.perf_counter()
        result = entity_neighbourhood(organization_id=organization.pk, entity_id=hub_id)
        self._line(
            "  the biggest hub's 2-hop neighbourhood",
            f"{(time.perf_counter() - started) * 1000:.1f} ms, {len(result.nodes)} nodes, {len(result.edges)} edges, "
            f"truncated: {result.truncated}",
        )

    def _time_paths(self, organization: Organization, rng: np.random.Generator) -> None:
        ids = list(Entity.objects.filter(organization=organization).values_list("pk", flat=True))
        pairs = rng.choice(ids, size=(PATH_QUERIES, 2)).tolist()
        milliseconds, lengths = [], []
        for source_id, target_id in pairs:
            started = time.perf_counter()
            path = shortest_path(organization_id=organization.pk, source_id=source_id, target_id=target_id)
            milliseconds.append((time.perf_counter() - started) * 1000)
            lengths.append(len(path) - 1 if path else None)
        found = [length for length in lengths if length is not None]
        self._line(
            f"shortest path, {PATH_QUERIES} random pairs",
            f"p50 {percentile(milliseconds, 0.5):.0f} ms, max {max(milliseconds):.0f} ms; "
            f"found {len(found)} (hops {min(found, default=0)}–{max(found, default=0)})",
        )

    def _time_analysis(self, organization: Organization) -> None:
        analysis = graph_analyze(organization_id=organization.pk)
        stats = analysis.stats
        self._line(
            "graph_analyze",
            f"{stats['seconds']['total']:.1f} s: {stats['nodes']:,} nodes, {stats['edges']:,} distinct links, "
            f"{stats['communities']:,} communities, betweenness {stats['betweenness']['method']} "
            f"({stats['betweenness']['sources']} sources)",
        )
        self._line("  steps (s)", ", ".join(f"{step} {seconds}" for step, seconds in stats["seconds"].items()))
        self._line(
            "  invoice cycles",
            f"{stats['cycles']} stored of {stats['cycles_found']:,} found in {stats['invoice_components']} strongly "
            f"connected components (truncated: {stats['cycles_truncated']})",
        )

    def _forget(self, organization: Organization) -> None:
        """Delete the organisation's graph in four statements; Django's collector would load every row first."""
        with transaction.atomic(), connection.cursor() as cursor:
            for model in (GraphCycle, GraphAnalysis, Relationship, Entity):
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE organization_id = %s",  # noqa: S608 - a constant
                    [organization.pk],
                )
