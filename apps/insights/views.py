"""The what-if simulator: a supervisor moves the inspection rate and the detectors' thresholds and sees, from the
deployed risk model's validation curve and the current volume of declarations, how many declarations inspectors
would check, how many frauds they would catch and how much revenue they would recover.

The page works without JavaScript (a GET form, numbers computed here by ``whatif_compute``); static/js/whatif.js
recomputes the same figures as the sliders move and draws the curve.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.anomalies import selectors as anomaly_selectors
from apps.anomalies.filtersets import detector_choices
from apps.datasets.models import CustomsDeclaration

VOLUME_DAYS = 30
DEFAULT_RATE = 5.0
HISTOGRAM_BINS = 20


def curve_at(curve: Sequence[Mapping[str, float]], percent: float) -> dict[str, float]:
    """The validation curve at ``percent`` % inspected, linearly interpolated between whole percents."""
    if not curve:
        return {"precision": 0.0, "recall": 0.0, "revenue": 0.0}
    percent = min(max(percent, 0.0), 100.0)
    points = [{"percent": 0.0, "precision": curve[0]["precision"], "recall": 0.0, "revenue": 0.0}, *curve]
    upper = next((index for index, point in enumerate(points) if point["percent"] >= percent), len(points) - 1)
    if upper == 0:
        return {key: float(points[0][key]) for key in ("precision", "recall", "revenue")}
    low, high = points[upper - 1], points[upper]
    span = high["percent"] - low["percent"] or 1.0
    weight = (percent - low["percent"]) / span
    return {key: float(low[key] + weight * (high[key] - low[key])) for key in ("precision", "recall", "revenue")}


def whatif_compute(*, metrics: Mapping[str, Any], volume: int, rate: float) -> dict[str, float]:
    """Declarations to check, frauds caught and revenue recovered over ``volume`` declarations at ``rate`` %."""
    point = curve_at(metrics.get("curve") or [], rate)
    rows = max(int(metrics.get("rows") or 0), 1)
    fraud_share = (metrics.get("frauds") or 0) / rows
    revenue_per_declaration = (metrics.get("revenue_total") or 0.0) / rows
    checks = math.ceil(volume * rate / 100)
    return {
        "checks": checks,
        "precision": point["precision"],
        "recall": point["recall"],
        "revenue_share": point["revenue"],
        "frauds_caught": round(point["recall"] * fraud_share * volume, 1),
        "frauds_total": round(fraud_share * volume, 1),
        "revenue_recovered": round(point["revenue"] * revenue_per_declaration * volume, 2),
        "revenue_total": round(revenue_per_declaration * volume, 2),
    }


def detector_rows(histogram: Mapping[str, Any], thresholds: Mapping[str, float]) -> list[dict[str, Any]]:
    """Per detector at its threshold: anomalies raised so far at or above it, and how many were confirmed."""
    labels = dict(detector_choices())
    rows = []
    for name, counts in sorted(histogram.items()):
        threshold = thresholds.get(name, 0.5)
        first = min(int(threshold * HISTOGRAM_BINS), HISTOGRAM_BINS)
        total = sum(counts["total"][first:])
        confirmed = sum(counts["confirmed"][first:])
        decided = confirmed + sum(counts["dismissed"][first:])
        rows.append(
            {
                "name": name,
                "label": labels.get(name, name),
                "threshold": threshold,
                "anomalies": total,
                "confirmed": confirmed,
                "confirmed_share": confirmed / decided if decided else None,
            }
        )
    return rows


def _volume(request: HttpRequest) -> int:
    """Declarations of the organisation in the last 30 days of its data."""
    declarations = CustomsDeclaration.objects.restrict(request.user, "view")
    latest = declarations.aggregate(latest=Max("declaration_date"))["latest"]
    if latest is None:
        return 0
    return declarations.filter(declaration_date__gt=latest - datetime.timedelta(days=VOLUME_DAYS)).count()


def _float(value: str | None, default: float, low: float, high: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        number = default
    return min(max(number, low), high)


@login_required
@permission_required("anomalies.view_mlmodel", raise_exception=True)
@require_safe
def whatif(request: HttpRequest) -> HttpResponse:
    model = anomaly_selectors.model_deployed(user=request.user)
    metrics = model.metrics if model is not None else {}
    volume = _volume(request)
    rate = _float(request.GET.get("rate"), DEFAULT_RATE, 0.1, 100.0)
    histogram = anomaly_selectors.anomaly_score_histogram(user=request.user, bins=HISTOGRAM_BINS)
    thresholds = {name: _float(request.GET.get(f"threshold-{name}"), 0.5, 0.0, 1.0) for name in histogram}
    data = {
        "curve": [
            {key: point[key] for key in ("percent", "precision", "recall", "revenue")}
            for point in metrics.get("curve", [])
        ],
        "rows": metrics.get("rows", 0),
        "frauds": metrics.get("frauds", 0),
        "revenue_total": metrics.get("revenue_total", 0.0),
        "volume": volume,
        "histogram": histogram,
        "bins": HISTOGRAM_BINS,
    }
    return render(
        request,
        "insights/whatif.html",
        {
            "model": model,
            "volume": volume,
            "volume_days": VOLUME_DAYS,
            "rate": rate,
            "result": whatif_compute(metrics=metrics, volume=volume, rate=rate) if model is not None else None,
            "detectors": detector_rows(histogram, thresholds),
            "data": data,
        },
    )
