"""The supervised risk model: features, the leakage-safe history encodings, the time split, the metrics, and the
``risk-model`` detector that scores declarations with the organisation's deployed model.

History encodings. For each of importer, declarant, goods code, customs post and the two countries, a
declaration gets what was known *before its day*: how many declarations the key had, how many were inspected,
and the smoothed share found fraudulent. Rows of the same day never see each other's outcomes, and nothing after
the day is used, so a feature of a training row is exactly what an inspector could have known that morning.
``tests/anomalies/test_risk.py`` checks it by rewriting the future and seeing the past unchanged.

Time split. The model is trained on the inspected declarations before a cut-off date and evaluated on those from
the cut-off on (the most recent period), as it will be used: on declarations it has not seen, later than any it
learned from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import ThreadpoolController, threadpool_limits  # type: ignore[import-untyped]

from apps.anomalies.columns import FrameColumns, chunked_rows
from apps.anomalies.detectors.base import (
    DetectionContext,
    Detector,
    Finding,
    FloatArray,
    Templates,
    factor,
    per_language,
    register,
)
from apps.anomalies.detectors.declarations import unit_basis

HISTORY_KEYS = (
    "trader_code", "declarant_code", "goods_code", "customs_office_code", "origin_country", "counterparty_country",
)  # fmt: skip
# Weight of the overall fraud rate in a key's smoothed rate: a key with few inspections is not judged on them.
PRIOR_WEIGHT = 20.0
REPORTED_PERCENTS = (1, 2, 5, 10)
PRIMARY_METRIC = "precision@5"
DETECTOR_FEATURES = (
    "unit-value", "split-shipment", "goods-code-text", "isolation-forest", "shell-company", "mirror-mismatch",
    "watchlist",
)  # fmt: skip
MODEL_PARAMS = {"max_iter": 60, "learning_rate": 0.2, "max_leaf_nodes": 31, "l2_regularization": 1.0}


def _ranks(values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each value's rank among the distinct values (0 for the smallest), and the distinct values in order: a hash
    pass over the rows and a sort of the distinct values only."""
    index, uniques = pd.factorize(values)
    order = np.argsort(uniques, kind="stable")
    rank_of_unique = np.empty(len(uniques), dtype=np.int64)
    rank_of_unique[order] = np.arange(len(uniques))
    return rank_of_unique.take(index), np.asarray(uniques, dtype=np.int64)[order]


def _past_sums(
    codes: npt.NDArray[np.int64], day_rank: npt.NDArray[np.int64], days: int, weights: list[FloatArray | None]
) -> list[FloatArray]:
    """Per row and weight: the sum of the weight (``None``: one per row) over the rows of the same code on earlier
    days. The cells (code, day) are summed with ``bincount`` and accumulated in (code, day) order."""
    cell, cells = _ranks(codes * days + day_rank)
    cell_code = np.floor_divide(cells, days)
    first = np.r_[True, cell_code[1:] != cell_code[:-1]]
    code_start = np.maximum.accumulate(np.where(first, np.arange(len(cells)), 0))
    sums = []
    for weight in weights:
        per_cell = np.bincount(cell, weights=weight, minlength=len(cells)).astype(np.float64)
        before = np.cumsum(per_cell) - per_cell
        sums.append((before - before[code_start]).take(cell))
    return sums


def history_features(frame: pd.DataFrame, columns: FrameColumns | None = None) -> pd.DataFrame:
    """Per declaration and key: past declarations, past inspections and the smoothed past fraud rate."""
    columns = columns or FrameColumns(frame)
    day_rank, distinct_days = _ranks(columns.days())
    days = len(distinct_days)
    outcome = columns.floats("fraud_found")
    labelled = (~np.isnan(outcome)).astype(np.float64)
    fraud = np.nan_to_num(outcome, nan=0.0)
    # The overall rate known before each day is the prior every key's rate shrinks towards.
    day_labelled, day_fraud = (np.bincount(day_rank, weights=w, minlength=days) for w in (labelled, fraud))
    before_labelled = (np.cumsum(day_labelled) - day_labelled).take(day_rank)
    before_fraud = (np.cumsum(day_fraud) - day_fraud).take(day_rank)
    prior_by_day = (before_fraud + 1.0) / (before_labelled + 50.0)
    features = {}
    for key in HISTORY_KEYS:
        codes = columns.codes(key)
        rows, inspected, found = _past_sums(codes, day_rank, days, [None, labelled, fraud])
        missing = codes < 0
        short = key.removesuffix("_code")
        features[f"{short}_rows"] = np.where(missing, np.nan, np.log1p(rows))
        features[f"{short}_inspected"] = np.where(missing, np.nan, inspected)
        features[f"{short}_fraud_rate"] = np.where(
            missing, np.nan, (found + PRIOR_WEIGHT * prior_by_day) / (inspected + PRIOR_WEIGHT)
        )
    return pd.DataFrame(features, index=frame.index)


def _chapter(goods_codes: pd.Series) -> FloatArray:
    chapter = pd.to_numeric(goods_codes.str.slice(0, 2), errors="coerce")
    return np.asarray(chapter.to_numpy(dtype=np.float64, na_value=np.nan))


def row_features(
    frame: pd.DataFrame, scores: dict[str, FloatArray], columns: FrameColumns | None = None
) -> pd.DataFrame:
    """What the declaration itself says, and the detectors' scores."""
    columns = columns or FrameColumns(frame)
    value = columns.floats("customs_value_uah")
    safe_value = np.where(value > 0, value, np.nan)
    basis = unit_basis(columns)
    features = {
        "log_value": np.log1p(np.clip(value, 0, None)),
        "log_mass": np.log1p(np.clip(basis, 0, None)),
        "log_unit_value": np.log(safe_value / basis),
        "duty_rate": columns.floats("duty_uah") / safe_value,
        "vat_rate": columns.floats("vat_uah") / safe_value,
        "excise_rate": columns.floats("excise_uah") / safe_value,
        "is_import": columns.is_import().astype(np.float64),
        "transport": columns.codes("transport_mode").astype(np.float64),
        "chapter": columns.per_value("goods_code", "chapter", _chapter),
        "month_of_year": frame["declaration_date"].dt.month.to_numpy(dtype=np.float64),
    }
    for name in DETECTOR_FEATURES:
        features[f"detector_{name}"] = scores.get(name, np.zeros(len(frame)))
    return pd.DataFrame(features, index=frame.index)


def risk_features(
    frame: pd.DataFrame,
    scores: dict[str, FloatArray],
    columns: FrameColumns | None = None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The model's features; ``history`` is ``history_features(frame)`` if already computed."""
    columns = columns or FrameColumns(frame)
    if history is None:
        history = history_features(frame, columns)
    return pd.concat([row_features(frame, scores, columns), history], axis=1)


@dataclass(frozen=True)
class TimeSplit:
    train: npt.NDArray[np.bool_]
    test: npt.NDArray[np.bool_]
    cutoff: pd.Timestamp


def time_split(frame: pd.DataFrame, *, test_share: float = 0.2) -> TimeSplit:
    """Inspected declarations before the cut-off train, those from it on test; the cut-off leaves about
    ``test_share`` of the inspected declarations, the most recent, for the test."""
    labelled = frame["fraud_found"].notna().to_numpy()
    dates = frame["declaration_date"].to_numpy()
    if labelled.sum() < 2:
        raise ValueError("too few inspected declarations to split")
    cutoff = pd.Timestamp(
        np.quantile(dates[labelled].astype("datetime64[D]").astype(np.int64), 1 - test_share), unit="D"
    )
    before = dates < np.datetime64(cutoff)
    return TimeSplit(train=labelled & before, test=labelled & ~before, cutoff=cutoff)


def ranking_metrics(outcome: FloatArray, score: FloatArray, revenue: FloatArray) -> dict[str, Any]:
    """AUC, and precision, recall and share of the additional revenue when inspecting the top k % by score."""
    order = np.argsort(-score, kind="stable")
    found = outcome[order]
    money = np.nan_to_num(revenue[order], nan=0.0)
    total_found = max(found.sum(), 1.0)
    total_money = max(money.sum(), 1e-9)
    cumulative_found = np.cumsum(found)
    cumulative_money = np.cumsum(money)
    metrics: dict[str, Any] = {"rows": len(outcome), "frauds": int(found.sum())}
    metrics["auc"] = float(roc_auc_score(outcome, score)) if 0 < found.sum() < len(found) else None
    curve = []
    for percent in range(1, 101):
        top = max(1, math.ceil(len(order) * percent / 100))
        point = {
            "percent": percent,
            "precision": float(cumulative_found[top - 1] / top),
            "recall": float(cumulative_found[top - 1] / total_found),
            "revenue": float(cumulative_money[top - 1] / total_money),
        }
        curve.append(point)
        if percent in REPORTED_PERCENTS:
            metrics[f"precision@{percent}"] = point["precision"]
            metrics[f"recall@{percent}"] = point["recall"]
            metrics[f"revenue@{percent}"] = point["revenue"]
    metrics["curve"] = curve
    metrics["revenue_total"] = float(np.nansum(revenue))
    return metrics


def ml_threads() -> int:
    """OpenMP threads for gradient boosting. One by default: on a shared machine several OpenMP teams spinning
    against each other are ten times slower than one thread each (measured: 37 s against 2 s)."""
    return int(getattr(settings, "ANOMALIES_ML_THREADS", 1))


def model_fit(features: pd.DataFrame, outcome: FloatArray, *, seed: int = 0) -> Any:
    model = HistGradientBoostingClassifier(**MODEL_PARAMS, early_stopping=False, random_state=seed)
    with threadpool_limits(limits=ml_threads()):
        model.fit(features.to_numpy(dtype=np.float32), outcome.astype(np.int64))
    return model


def model_score(bundle: dict[str, Any], features: pd.DataFrame, *, workers: int = 1) -> FloatArray:
    """Fraud probability from a stored bundle; a feature the bundle knows but the frame lacks is missing (NaN).

    With ``workers`` > 1, slices of the rows are predicted on that many threads at once, each with
    ``ml_threads()`` OpenMP threads (set in the thread itself: an OpenMP limit holds for the thread that sets it).
    """
    # Column by column into one float32 matrix: no reindexed copy of the (float64) features on the way.
    rows = np.empty((len(features), len(bundle["features"])), dtype=np.float32)
    for index, name in enumerate(bundle["features"]):
        rows[:, index] = features[name].to_numpy(dtype=np.float64) if name in features else np.nan
    model = bundle["model"]
    threads = ml_threads()
    # Found once (finding the loaded libraries takes a fifth of a second), limited in each slice's thread.
    controller = ThreadpoolController()

    def predict(part: npt.NDArray[np.float32]) -> FloatArray:
        with controller.limit(limits=threads, user_api="openmp"):
            return np.asarray(model.predict_proba(part)[:, 1], dtype=np.float64)

    return np.asarray(chunked_rows(predict, rows, workers), dtype=np.float64)


FEATURE_LABELS = {
    "log_value": _("customs value"),
    "log_mass": _("net mass"),
    "log_unit_value": _("unit value"),
    "duty_rate": _("duty rate"),
    "vat_rate": _("VAT rate"),
    "excise_rate": _("excise rate"),
    "trader_fraud_rate": _("importer's past findings"),
    "declarant_fraud_rate": _("declarant's past findings"),
    "goods_fraud_rate": _("goods code's past findings"),
    "customs_office_fraud_rate": _("customs post's past findings"),
    "origin_country_fraud_rate": _("origin country's past findings"),
    "counterparty_country_fraud_rate": _("partner country's past findings"),
    "trader_rows": _("importer's past declarations"),
    "detector_unit-value": _("unit value against peers"),
    "detector_split-shipment": _("split shipment"),
    "detector_goods-code-text": _("goods code against description"),
    "detector_isolation-forest": _("unusual declaration"),
    "detector_shell-company": _("shell-company signals"),
    "detector_mirror-mismatch": _("mirror mismatch"),
    "detector_watchlist": _("watchlist"),
}


def contributions(bundle: dict[str, Any], features: pd.DataFrame, reference: pd.Series) -> pd.DataFrame:
    """How much each feature pushes each row's probability: the drop when that feature alone is set to the
    reference (the training median)."""
    base = model_score(bundle, features)
    result = {}
    for column in bundle["features"]:
        changed = features.copy()
        changed[column] = reference.get(column, np.nan)
        result[column] = base - model_score(bundle, changed)
    return pd.DataFrame(result, index=features.index)


@register
class RiskModelDetector(Detector):
    """The organisation's deployed risk model (``MLModel``); runs last, on the other detectors' scores."""

    name = "risk-model"
    label = _("Risk model (supervised)")
    defaults = {"threshold": 0.5, "max_findings": 2000}
    reads_scores = True

    def __init__(self, params: dict[str, Any] | None = None, bundle: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.bundle = bundle
        self._history: pd.DataFrame | None = None

    def prepare(self, context: DetectionContext) -> None:
        self.load(context)

    def precompute(self, context: DetectionContext) -> None:
        """The history encodings need no detector's score: they are computed while the detectors run."""
        if self.bundle is not None and len(context.frame):
            self._history = history_features(context.frame, context.columns)

    def load(self, context: DetectionContext) -> dict[str, Any] | None:
        if self.bundle is None and context.organization_id is not None:
            from apps.anomalies.registry import deployed_bundle

            self.bundle = deployed_bundle(organization_id=context.organization_id)
        return self.bundle

    def score(self, context: DetectionContext) -> FloatArray | None:
        bundle = self.load(context)
        if bundle is None or not len(context.frame):
            return None
        self._features = risk_features(context.frame, context.scores, context.columns, self._history)
        self._history = None
        return model_score(bundle, self._features, workers=context.threads())

    def explain(self, context: DetectionContext, positions: npt.NDArray[np.int64], scores: FloatArray) -> list[Finding]:
        if not len(positions) or self.bundle is None:
            return []
        reference = pd.Series(self.bundle.get("medians", {}), dtype=np.float64)
        pushed = contributions(self.bundle, self._features.iloc[positions], reference)
        texts = Templates(
            text=_(
                "The risk model gives this declaration a %(probability)s%% chance of a finding (version "
                "%(version)s); what raises it most: %(reasons)s."
            ),
            title=_("Risk %(probability)s%%: goods %(code)s"),
        )
        labels = per_language(FEATURE_LABELS)
        findings = []
        for index, position in enumerate(positions):
            row = pushed.iloc[index].sort_values(ascending=False)
            top = [(name, value) for name, value in row.head(3).items() if value > 0]
            values = {
                "probability": round(100 * float(scores[position])),
                "version": self.bundle.get("version", "—"),
                "code": context.frame["goods_code"].iat[position],
            }
            rendered = {}
            for language in ("en", "uk"):
                reasons = ", ".join(f"{labels[language].get(name, name)} ({value:+.2f})" for name, value in top)
                rendered[language] = texts.render("text", {**values, "reasons": reasons or "—"})[language]
            feature_values = self._features.iloc[position]
            findings.append(
                self.row_finding(
                    context,
                    int(position),
                    scores[position],
                    title=texts.title("title", values),
                    explanation={
                        **rendered,
                        "factors": [
                            factor(
                                name,
                                None if pd.isna(feature_values[name]) else round(float(feature_values[name]), 4),
                                None if pd.isna(reference.get(name)) else round(float(reference[name]), 4),
                                value,
                            )
                            for name, value in row.head(5).items()
                        ],
                    },
                )
            )
        return findings
