"""The search benchmark (docs/performance.md): autocomplete, full-text and hybrid latency under concurrent clients.

1. generates ``--rows`` synthetic declarations (``generate_customs``, in a child process) and loads them through
   the real pipeline with entity resolution (the anomaly scoring hook is left out: it is not search), unless
   ``--reuse`` finds them loaded;
2. fills the full-text vectors as the indexing task does (timed) and embeds the distinct goods descriptions into
   the vector store (``--vector-texts`` of them, 0 for all);
3. starts the web server exactly as ``manage.py run`` does (``WEB_PROCESSES`` Daphne processes on one listening
   socket) and sends the search API queries drawn from the loaded data from ``--clients`` concurrent clients;
4. prints p50/p95/p99 per scenario against the targets: autocomplete ≤ 50 ms, full-text ≤ 300 ms, hybrid ≤ 500 ms.

Every loop is bounded (``--requests`` per scenario, a timeout per request) and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from argparse import ArgumentParser
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Max, Min, QuerySet

from apps.accounts.choices import Role
from apps.accounts.models import Organization, Tier, User
from apps.accounts.services import api_key_create, membership_set
from apps.core.management.commands.run import listen_socket, web_processes, web_start
from apps.datasets import services as dataset_services
from apps.datasets.hooks import post_load_hooks, register_post_load, unregister_post_load
from apps.datasets.models import CustomsDeclaration, Dataset, DatasetSource, DatasetStatus, RecordKind
from apps.entities.models import Entity, EntityIdentifier, EntityKind
from apps.search.engines.postgres import postgres_index_dataset
from apps.search.engines.vectors import vectors_index_dataset

BENCHMARK_ORGANIZATION = "search-benchmark"
BENCHMARK_USER = "search-benchmark"
BENCHMARK_TIER = "search-benchmark"
DEFAULT_ROWS = 5_000_000
TARGETS_MS = {"autocomplete": 50, "full-text": 300, "hybrid": 500}
REQUEST_TIMEOUT = 30
SERVER_START_TIMEOUT = 120
WARMUP_REQUESTS = 24
SAMPLE_ROWS = 500
# The post-load hooks the benchmark's load runs: the entities it searches; the search indexing is run (and timed)
# by the benchmark itself.
LOAD_HOOKS = ("entities.resolve",)


@dataclass
class Scenario:
    name: str
    path: str
    params: list[dict[str, str]]
    # Sent before the clock runs, so every process has loaded its code, model and replica; none of them is measured.
    warmup: list[dict[str, str]]


def processes_cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    """User and system CPU time of the web processes so far (Linux ``/proc``; 0 elsewhere)."""
    total = 0.0
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = (
        "Load generated declarations (or reuse them), embed a sample of their descriptions, start the web server "
        "and measure the search API's autocomplete, full-text and hybrid latency under concurrent clients."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"Declarations (default {DEFAULT_ROWS:,}).")
        parser.add_argument("--seed", type=int, default=1, help="Generator seed (default 1).")
        parser.add_argument("--reuse", action="store_true", help="Measure the declarations loaded by a previous run.")
        parser.add_argument(
            "--vector-texts", type=int, default=0, help="Distinct descriptions to embed (default 0: all of them)."
        )
        parser.add_argument("--clients", type=int, default=4, help="Concurrent clients (default 4).")
        parser.add_argument("--requests", type=int, default=200, help="Requests per scenario (default 200).")
        parser.add_argument("--out", type=Path, help="Directory for the generated files (default: a temporary one).")

    def handle(self, *args: Any, **options: Any) -> None:
        # A tier of its own: the API without a daily quota or a rate a real tier would have (600 requests a minute
        # is ten seconds of this benchmark), so it measures search, not the rate limiter.
        tier, _created = Tier.objects.update_or_create(
            slug=BENCHMARK_TIER,
            defaults={
                "name": "Search benchmark",
                "position": 1000,
                "daily_query_limit": None,
                "api_access": True,
                "api_rate_per_minute": 1_000_000,
            },
        )
        organization, _created = Organization.objects.update_or_create(
            slug=BENCHMARK_ORGANIZATION, defaults={"name": "Search benchmark", "tier": tier}
        )
        datasets = Dataset.objects.filter(
            organization=organization, kind=RecordKind.CUSTOMS_DECLARATION, status=DatasetStatus.READY
        )
        if not (options["reuse"] and datasets.exists()):
            self._load(organization, options)
        dataset = datasets.order_by("-pk").first()
        if dataset is None:
            raise CommandError("no loaded declarations to measure")
        rows = CustomsDeclaration.objects.filter(organization=organization).count()
        entities = Entity.objects.filter(organization=organization).count()
        started, cpu = time.perf_counter(), time.process_time()
        filled = postgres_index_dataset(dataset_id=dataset.pk)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"full-text vectors: {filled:,} rows filled in {seconds:.0f} s ({filled / max(seconds, 1e-3):,.0f} rows/s, "
            f"this process's CPU {time.process_time() - cpu:.0f} s)"
        )
        started = time.perf_counter()
        embedded = vectors_index_dataset(dataset_id=dataset.pk, limit=options["vector_texts"] or None)
        embed_seconds = time.perf_counter() - started
        self.stdout.write(
            f"{rows:,} declarations, {entities:,} entities; {embedded} new vectors in {embed_seconds:.0f} s"
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        user = self._user(organization)
        key = api_key_create(user=user, name=f"benchmark {datetime.datetime.now():%H%M%S}").raw_key
        scenarios = self._scenarios(organization, options["requests"])
        self.stdout.write(f"load average before measuring: {os.getloadavg()[0]:.1f}")
        sock = listen_socket("127.0.0.1", 18500)
        port = sock.getsockname()[1]
        # As deployed: DEBUG off (with it on, Django also records and formats every SQL statement).
        servers = web_start(
            sock,
            web_processes(),
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBUG": "false"},
        )
        sock.close()
        try:
            self._wait_for(port, servers)
            results = {
                scenario.name: self._measure(scenario, port, key, options["clients"], servers) for scenario in scenarios
            }
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
        self._report(rows, entities, embedded, options, results, len(servers))

    def _load(self, organization: Organization, options: dict[str, Any]) -> None:
        out: Path = options["out"] or Path(tempfile.mkdtemp(prefix="nexus-search-benchmark-"))
        try:
            path = out / "declarations.csv"
            if not path.exists():
                self.stdout.write(f"Generating {options['rows']:,} declarations into {out} …")
                subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
                    [sys.executable, "manage.py", "generate_customs", "--rows", str(options["rows"]), "--seed",
                     str(options["seed"]), "--out", str(out), "--verbosity", "0"],
                    check=True,
                    cwd=settings.BASE_DIR,
                )  # fmt: skip
            self.stdout.write("Loading through the pipeline, entity resolution included …")
            started = time.perf_counter()
            with path.open("rb") as handle:
                created = dataset_services.dataset_create(
                    organization=organization,
                    user=None,
                    file=File(handle, name=path.name),
                    name=f"Search benchmark {options['rows']:,}",
                    kind=RecordKind.CUSTOMS_DECLARATION,
                    source=DatasetSource.COMMAND,
                    enqueue=False,
                )
            saved_hooks = post_load_hooks()
            for name, _hook in saved_hooks:
                if name not in LOAD_HOOKS:
                    unregister_post_load(name)
            try:
                dataset = dataset_services.dataset_run(dataset_id=created.dataset.pk, hooks_inline=True)
            finally:
                for name, hook in saved_hooks:
                    register_post_load(name, hook)
            if dataset.status != DatasetStatus.READY:
                raise CommandError(f"the dataset did not load: {dataset.status} {dataset.error}")
            self.stdout.write(f"loaded and resolved in {time.perf_counter() - started:.0f} s")
        finally:
            if options["out"] is None:
                shutil.rmtree(out, ignore_errors=True)

    def _user(self, organization: Organization) -> User:
        user, _created = User.objects.get_or_create(username=BENCHMARK_USER)
        membership_set(user=user, organization=organization, role=Role.INVESTIGATOR)
        return user

    def _scenarios(self, organization: Organization, count: int) -> list[Scenario]:
        rng = random.Random(7)  # noqa: S311 - a repeatable sample of queries, not a secret

        def sample(queryset: QuerySet[Any], *fields: str) -> list[Any]:
            """At most ``SAMPLE_ROWS`` rows at seeded places of the key range: the same queries on the same data."""
            bounds = queryset.aggregate(low=Min("pk"), high=Max("pk"))
            if bounds["low"] is None:
                return []
            picks = {rng.randint(bounds["low"], bounds["high"]) for _ in range(SAMPLE_ROWS * 2)}
            rows = queryset.filter(pk__in=picks).order_by("pk")
            flat = len(fields) == 1
            return list(rows.values_list(*fields, flat=flat)[:SAMPLE_ROWS])

        names = sample(Entity.objects.filter(organization=organization, kind=EntityKind.COMPANY, is_pii=False), "name")
        codes = sample(
            EntityIdentifier.objects.filter(organization=organization).exclude(value__startswith="PII-"), "value"
        )
        rows = sample(
            CustomsDeclaration.objects.filter(organization=organization),
            "declaration_number",
            "trader_code",
            "goods_code",
            "goods_description",
            "counterparty_name",
        )
        if not names or not rows:
            raise CommandError("the benchmark organisation has no entities or declarations")

        def name_prefix() -> str:
            words = [word.strip("«»\"'") for word in rng.choice(names).split() if len(word) > 3]
            word = rng.choice(words) if words else rng.choice(names)
            return word[: rng.randint(3, 6)]

        def autocomplete() -> dict[str, str]:
            if codes and rng.random() < 0.3:
                return {"q": rng.choice(codes).lstrip("0")[: rng.randint(4, 6)]}
            return {"q": name_prefix()}

        def full_text() -> dict[str, str]:
            number, trader_code, goods_code, description, counterparty = rng.choice(rows)
            choice = rng.randrange(5)
            if choice == 0:
                text = number
            elif choice == 1 and trader_code and not trader_code.startswith("PII-"):
                text = trader_code.lstrip("0")
            elif choice == 2:
                text = goods_code[:4]
            elif choice == 3 and counterparty:
                text = counterparty.split(",")[0]
            else:
                words = [word for word in description.split() if len(word) > 4 and word.isalpha()]
                text = rng.choice(words) if words else description
            return {"q": text, "kind": "customs_declaration", "mode": "exact", "page_size": "20"}

        def hybrid() -> dict[str, str]:
            description = rng.choice(rows)[3]
            words = [word for word in description.split() if word.isalpha()][:3]
            text = f"хто ввозив {' '.join(words).lower()} для перепродажу"
            return {"q": text, "kind": "customs_declaration", "mode": "hybrid", "page_size": "20"}

        return [
            Scenario(name, path, [make() for _ in range(count)], [make() for _ in range(WARMUP_REQUESTS)])
            for name, path, make in (
                ("autocomplete", "/api/v1/search/autocomplete/", autocomplete),
                ("full-text", "/api/v1/search/", full_text),
                ("hybrid", "/api/v1/search/", hybrid),
            )
        ]

    def _wait_for(self, port: int, servers: list[subprocess.Popen[bytes]]) -> None:
        """Until every web process answers (each loads Django, and on its first search the model and store)."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if isinstance(error, urllib.error.HTTPError):
                    return
                if time.monotonic() > deadline or any(server.poll() is not None for server in servers):
                    raise CommandError(f"the web server on port {port} did not start") from error
                time.sleep(0.5)

    def _measure(
        self, scenario: Scenario, port: int, key: str, clients: int, servers: list[subprocess.Popen[bytes]]
    ) -> dict[str, Any]:
        def call(params: dict[str, str]) -> tuple[float, bool]:
            query = urllib.parse.urlencode(params, doseq=True)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{scenario.path}?{query}", headers={"Authorization": f"Api-Key {key}"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
                    json.loads(response.read())
                    ok = response.status == 200
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                ok = False
            return (time.perf_counter() - started) * 1000, ok

        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            list(pool.map(call, scenario.warmup))
        started, cpu = time.perf_counter(), processes_cpu_seconds(servers)
        with ThreadPoolExecutor(max_workers=clients) as pool:
            outcomes = list(pool.map(call, scenario.params))
        wall = time.perf_counter() - started
        server_cpu = processes_cpu_seconds(servers) - cpu
        latencies = [ms for ms, _ok in outcomes]
        return {
            "requests": len(outcomes),
            "errors": sum(1 for _ms, ok in outcomes if not ok),
            "p50": statistics.median(latencies),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "throughput": len(outcomes) / wall,
            "cpu_ms": server_cpu * 1000 / len(outcomes),
        }

    def _report(
        self,
        rows: int,
        entities: int,
        embedded: int,
        options: dict[str, Any],
        results: dict[str, dict[str, Any]],
        processes: int,
    ) -> None:
        self.stdout.write("")
        self.stdout.write(f"date        {datetime.date.today().isoformat()}")
        self.stdout.write(
            f"machine     {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        self.stdout.write(f"data        {rows:,} declarations, {entities:,} entities, {embedded} new vectors")
        self.stdout.write(f"clients     {options['clients']} concurrent, {processes} Daphne processes on one socket")
        self.stdout.write("")
        self.stdout.write(f"{'scenario':<14}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                          f"{'req/s':>8}{'web CPU ms/req':>16}  target p95")  # fmt: skip
        for name, result in results.items():
            target = TARGETS_MS[name]
            verdict = "met" if result["p95"] <= target and not result["errors"] else "NOT met"
            self.stdout.write(
                f"{name:<14}{result['requests']:>9}{result['errors']:>7}{result['p50']:>9.0f}{result['p95']:>9.0f}"
                f"{result['p99']:>9.0f}{result['throughput']:>8.1f}{result['cpu_ms']:>16.0f}  ≤ {target} ms: {verdict}"
            )
