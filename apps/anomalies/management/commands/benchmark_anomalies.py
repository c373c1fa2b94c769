"""The anomaly benchmark (docs/performance.md): recall of each planted scheme when inspecting the top 5 %, and the
speed of scoring every declaration with all detectors and the risk model.

Runs on a ``generate_customs`` output (generated here unless ``--data`` names one), read straight into the frame
the detectors use: the database is not part of what is measured. The risk model is trained on the inspected
declarations before the time split (about 80 % of them) and the recall is reported on every declaration and on the
held-out period alone.
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import resource
import shutil
import tempfile
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.anomalies.columns import scoring_workers
from apps.anomalies.detectors import DetectionContext
from apps.anomalies.engine import RISK_DETECTOR, combined_score, detect, risk_train
from apps.anomalies.synthetic import synthetic_declarations, synthetic_mirror, synthetic_registry, synthetic_schemes
from apps.datasets.synthetic.config import GeneratorConfig
from apps.datasets.synthetic.generator import generate

SCHEMES = ("under_invoicing", "misclassification", "split_shipment", "shell_company")
TOP_SHARE = 0.05
TARGET_RECALL = 0.9


def recall_at(scores: np.ndarray, schemes: np.ndarray, share: float) -> dict[str, float]:
    """Per scheme: the share of its declarations among the top ``share`` of all declarations by score."""
    top = max(1, round(len(scores) * share))
    selected = np.zeros(len(scores), dtype=bool)
    selected[np.argsort(-scores, kind="stable")[:top]] = True
    return {
        scheme: float(selected[schemes == scheme].mean()) if (schemes == scheme).any() else float("nan")
        for scheme in SCHEMES
    }


class Command(BaseCommand):
    help = "Recall of the planted schemes at the top 5% and the speed of scoring (docs/performance.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=200_000, help="declarations to generate (default 200,000)")
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--data", type=Path, help="an existing generate_customs output directory to use")
        parser.add_argument("--keep", action="store_true", help="keep the generated files")
        parser.add_argument(
            "--threads", type=int, default=1, help="OpenMP threads of the gradient boosting, per worker (default 1)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            help="threads scoring runs on (default: the ANOMALIES_WORKERS setting, two on a multi-core machine)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options.get("verbosity", 1))
        settings.ANOMALIES_ML_THREADS = options["threads"]
        if options["workers"] is not None:
            settings.ANOMALIES_WORKERS = options["workers"]
        if options["data"]:
            self.run(options["data"])
            return
        out = Path(tempfile.mkdtemp(prefix="anomaly-bench-"))
        try:
            started = time.perf_counter()
            generate(GeneratorConfig(rows=options["rows"], seed=options["seed"]), out)
            self.line(f"generated {options['rows']:,} declarations in {time.perf_counter() - started:.1f} s ({out})")
            self.run(out)
        finally:
            if not options["keep"]:
                shutil.rmtree(out, ignore_errors=True)

    def line(self, text: str) -> None:
        if self.verbosity:
            self.stdout.write(text)

    def run(self, directory: Path) -> None:
        if not (directory / "declarations.csv").exists():
            raise CommandError(f"{directory} holds no declarations.csv")
        started = time.perf_counter()
        frame = synthetic_declarations(directory)
        registry = synthetic_registry(directory)
        mirror = synthetic_mirror(directory)
        schemes = synthetic_schemes(directory, frame["declaration_number"]).to_numpy()
        read_seconds = time.perf_counter() - started
        rows = len(frame)

        # Training: detector scores as features, the model fitted on the inspected rows before the split.
        started = time.perf_counter()
        training_context = DetectionContext(frame=frame, registry_loader=lambda: registry, mirror=mirror)
        training_scores = detect(training_context, {}, enabled={RISK_DETECTOR: False}, with_findings=False).scores
        training = risk_train(frame, training_scores)
        train_seconds = time.perf_counter() - started
        # Scoring runs in its own process in the product: the training's features and scores are not kept.
        bundle, metrics, test_from, test_to = training.bundle, training.metrics, training.test_from, training.test_to
        del training, training_context, training_scores
        gc.collect()

        # Scoring: every detector (each fitting what it fits) and the risk model, on every declaration.
        peak_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load_before = os.getloadavg()[0]
        started, cpu_started = time.perf_counter(), time.process_time()
        context = DetectionContext(frame=frame, registry_loader=lambda: registry, mirror=mirror)
        detection = detect(context, {}, bundle=bundle, with_findings=False)
        score_seconds = time.perf_counter() - started
        score_cpu = time.process_time() - cpu_started
        risk = detection.scores[RISK_DETECTOR]

        held_out = (frame["declaration_date"] >= test_from).to_numpy()
        overall = recall_at(risk, schemes, TOP_SHARE)
        recent = recall_at(risk[held_out], schemes[held_out], TOP_SHARE)
        detectors_only = recall_at(combined_score(detection.scores, rows), schemes, TOP_SHARE)
        counts = {scheme: int((schemes == scheme).sum()) for scheme in SCHEMES}

        self.line("")
        self.line(f"Recall of each planted scheme when inspecting the top {TOP_SHARE:.0%} ({rows:,} declarations)")
        self.line(f"{'scheme':<20}{'rows':>8}{'risk, all':>12}{'risk, held-out':>16}{'detectors only':>16}  target")
        for scheme in SCHEMES:
            verdict = "ok" if overall[scheme] >= TARGET_RECALL and recent[scheme] >= TARGET_RECALL else "BELOW"
            self.line(
                f"{scheme:<20}{counts[scheme]:>8,}{overall[scheme]:>12.3f}{recent[scheme]:>16.3f}"
                f"{detectors_only[scheme]:>16.3f}  ≥ {TARGET_RECALL} {verdict}"
            )
        self.line("")
        self.line(
            f"risk model on the held-out period {test_from:%Y-%m-%d} – {test_to:%Y-%m-%d} "
            f"({metrics['rows']:,} inspected, {metrics['frauds']:,} frauds): AUC {metrics['auc']:.3f}, "
            + ", ".join(
                f"P@{k}% {metrics[f'precision@{k}']:.3f} R@{k}% {metrics[f'recall@{k}']:.3f} "
                f"revenue@{k}% {metrics[f'revenue@{k}']:.3f}"
                for k in (1, 2, 5, 10)
            )
        )
        self.line("")
        self.line(f"read {read_seconds:.1f} s; training (detectors + model) {train_seconds:.1f} s")
        self.line(
            f"scoring {rows:,} declarations with all detectors and the risk model: {score_seconds:.1f} s "
            f"({rows / score_seconds:,.0f} declarations/s), CPU {score_cpu:.1f} s on {scoring_workers()} worker "
            f"threads; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
        self.line(
            "  each step's own time (overlapping when run at once): "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in detection.seconds.items())
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.line(
            f"peak memory {peak_mb:,.0f} MB ({peak_before_mb:,.0f} MB before scoring); "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
