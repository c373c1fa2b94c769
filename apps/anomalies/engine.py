"""One detection run over a frame, and the training of a risk model on one: no database, whole columns.

``detect`` runs every enabled detector in registration order (the risk model last, on the others' scores) and
returns their scores and findings. ``risk_train`` fits a risk model on the inspected declarations before the time
split and measures it on the most recent period. Services (``apps.anomalies.services``) load the frames and
store what comes out; the benchmarks call these directly on generated data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from apps.anomalies.detectors import DETECTORS, DetectionContext, Finding
from apps.anomalies.detectors.base import FloatArray
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
) -> Detection:
    """Scores (and findings) of every enabled detector; ``configs`` gives each detector's parameters."""
    result = Detection()
    for name, detector_class in DETECTORS.items():
        if enabled is not None and not enabled.get(name, True):
            continue
        started = time.perf_counter()
        params = dict(configs.get(name, {}))
        detector = (
            RiskModelDetector(params, bundle=bundle) if detector_class is RiskModelDetector else detector_class(params)
        )
        scores = detector.score(context)
        if scores is not None:
            context.scores[name] = scores
            result.scores[name] = scores
        if with_findings:
            result.findings.extend(detector.findings(context, scores))
        result.seconds[name] = round(time.perf_counter() - started, 3)
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
        raise ValueError("too few inspected declarations before or after the split to train and test a model")
    outcome = frame["fraud_found"].to_numpy(dtype=np.float64, na_value=np.nan)
    if len(np.unique(outcome[split.train])) < 2:
        raise ValueError("the training period has only one outcome; a model needs both frauds and clean cases")
    features = risk_features(frame, dict(scores))
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
