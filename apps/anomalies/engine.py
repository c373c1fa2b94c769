"""One detection run over a frame, and the training of a risk model on one: no database, whole columns.

``detect`` runs every enabled detector in registration order (the risk model last, on the others' scores) and
returns their scores and findings. ``risk_train`` fits a risk model on the inspected declarations before the time
split and measures it on the most recent period. Services (``apps.anomalies.services``) load the frames and
store what comes out; the benchmarks call these directly on generated data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from django.utils.translation import gettext_lazy as _

from apps.anomalies.detectors import DETECTORS, DetectionContext, Finding
from apps.anomalies.detectors.base import Detector, FloatArray
from apps.anomalies.risk import (
    MODEL_PARAMS,
    RiskModelDetector,
    model_fit,
    model_score,
    ranking_metrics,
    risk_features,
    time_split,
)

RISK_DETECTOR = RiskModelDetector.name
T = TypeVar("T")


@dataclass
class Detection:
    scores: dict[str, FloatArray] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def detect(
    context: DetectionContext,
    configs: Mapping[str, Mapping[str, Any]],
    *,
    enabled: Mapping[str, bool] | None = None,
    bundle: dict[str, Any] | None = None,
    with_findings: bool = True,
    workers: int | None = None,
) -> Detection:
    """Scores (and findings) of every enabled detector; ``configs`` gives each detector's parameters.

    The detectors that do not read each other's scores run at once on ``workers`` threads (default
    ``ANOMALIES_WORKERS``), with the score-independent part of the others (the risk model's history encodings);
    then the ones that read scores, in registration order; then the findings, in registration order. Database reads
    happen in the calling thread (``Detector.prepare``, and detectors that are not ``threaded``). Scores and
    findings are the same with any number of workers; ``seconds`` are each detector's own (overlapping) times.
    """
    if workers is not None:
        context.workers = workers
    context.columns  # noqa: B018 - created once, before any thread asks for it
    detectors: dict[str, Detector] = {}
    for name, detector_class in DETECTORS.items():
        if enabled is not None and not enabled.get(name, True):
            continue
        params = dict(configs.get(name, {}))
        detectors[name] = (
            RiskModelDetector(params, bundle=bundle) if detector_class is RiskModelDetector else detector_class(params)
        )
    seconds: dict[str, float] = dict.fromkeys(detectors, 0.0)

    def timed(name: str, step: Callable[[DetectionContext], T]) -> Callable[[], T]:
        def run() -> T:
            started = time.perf_counter()
            try:
                return step(context)
            finally:
                seconds[name] += time.perf_counter() - started

        return run

    for name, detector in detectors.items():
        timed(name, detector.prepare)()
    first = {name: detector for name, detector in detectors.items() if not detector.reads_scores}
    later = {name: detector for name, detector in detectors.items() if detector.reads_scores}
    # The risk model's history encodings go first: the longest task, started while the rest is queued.
    threaded: list[tuple[str, Callable[[], Any]]] = [
        (name, timed(name, detector.precompute)) for name, detector in later.items()
    ]
    threaded += [(name, timed(name, detector.score)) for name, detector in first.items() if detector.threaded]
    in_caller = {name: timed(name, detector.score) for name, detector in first.items() if not detector.threaded}
    scores: dict[str, FloatArray | None] = {}
    threads = context.threads()
    if threads > 1 and len(threaded) > 1:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="anomalies") as pool:
            futures = [(name, pool.submit(task)) for name, task in threaded]
            for name, run in in_caller.items():
                scores[name] = run()
            for name, future in futures:
                if name in first:
                    scores[name] = future.result()
                else:
                    future.result()
    else:
        for name, task in threaded:
            value = task()
            if name in first:
                scores[name] = value
        for name, run in in_caller.items():
            scores[name] = run()

    result = Detection()
    for name, detector in detectors.items():
        value = scores[name] if name in first else timed(name, detector.score)()
        if value is not None:
            context.scores[name] = value
            result.scores[name] = value
    if with_findings:
        for name, detector in detectors.items():
            started = time.perf_counter()
            result.findings.extend(detector.findings(context, result.scores.get(name)))
            seconds[name] += time.perf_counter() - started
    result.seconds = {name: round(value, 3) for name, value in seconds.items()}
    return result


def combined_score(scores: Mapping[str, FloatArray], length: int) -> FloatArray:
    """The ranking used without a deployed model: the strongest detector score of each declaration."""
    stacked = [np.nan_to_num(values) for name, values in scores.items() if name != RISK_DETECTOR]
    if not stacked:
        return np.zeros(length)
    return np.asarray(np.max(np.vstack(stacked), axis=0), dtype=np.float64)


@dataclass
class Training:
    bundle: dict[str, Any]
    metrics: dict[str, Any]
    train_from: pd.Timestamp
    train_to: pd.Timestamp
    test_from: pd.Timestamp
    test_to: pd.Timestamp
    test_mask: np.ndarray
    features: pd.DataFrame


def risk_train(
    frame: pd.DataFrame, scores: Mapping[str, FloatArray], *, test_share: float = 0.2, seed: int = 0
) -> Training:
    """Fit on the inspected declarations before the split, measure on the most recent inspected ones."""
    split = time_split(frame, test_share=test_share)
    if split.train.sum() < 20 or split.test.sum() < 5:
        raise ValueError(_("too few inspected declarations before or after the split to train and test a model"))
    outcome = frame["fraud_found"].to_numpy(dtype=np.float64, na_value=np.nan)
    if len(np.unique(outcome[split.train])) < 2:
        raise ValueError(_("the training period has only one outcome; a model needs both frauds and clean cases"))
    features = risk_features(frame, dict(scores))
    # A file without some column (no duty or VAT amounts, say) leaves its features empty: the model is fitted on
    # the others, and scoring reads only those (``bundle["features"]``).
    features = features.loc[:, features[split.train].notna().any().to_numpy()]
    model = model_fit(features[split.train], outcome[split.train], seed=seed)
    bundle = {
        "model": model,
        "features": list(features.columns),
        "medians": features[split.train].median().to_dict(),
        "params": dict(MODEL_PARAMS),
    }
    metrics = risk_evaluate(bundle, frame, features, split.test)
    dates = frame["declaration_date"]
    return Training(
        bundle=bundle,
        metrics=metrics,
        train_from=dates[split.train].min(),
        train_to=dates[split.train].max(),
        test_from=dates[split.test].min(),
        test_to=dates[split.test].max(),
        test_mask=split.test,
        features=features,
    )


def risk_evaluate(
    bundle: dict[str, Any], frame: pd.DataFrame, features: pd.DataFrame, rows: np.ndarray
) -> dict[str, Any]:
    outcome = frame["fraud_found"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    revenue = frame["additional_revenue_uah"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    return ranking_metrics(outcome, model_score(bundle, features[rows]), revenue)
