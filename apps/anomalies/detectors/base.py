"""The one interface every detector implements, the registry of detectors by name, and what they return.

A detector reads whole columns of the declarations frame (``apps.anomalies.frame``) and returns

- ``score(context)``: one score in [0, 1] per declaration (or ``None`` if it does not score declarations), used
  both to raise anomalies and as a feature of the supervised risk model;
- ``findings(context, scores)``: the anomalies to raise, each with its bilingual explanation and its factors.

Parameters live in the database (``DetectorConfig``, edited in admin) and override the class's ``defaults``; every
detector has ``threshold`` (raise at or above this score) and ``max_findings`` (per run: a feed of a hundred
thousand alerts helps nobody, the strongest are raised first).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from django.utils import translation
from django.utils.functional import Promise

from apps.anomalies.columns import FrameColumns, scoring_workers
from apps.anomalies.models import Severity

FloatArray = npt.NDArray[np.float64]
LANGUAGES = ("en", "uk")


@dataclass
class Finding:
    """An anomaly to raise; ``trader_codes`` are resolved to entities when it is stored."""

    detector: str
    dedup_key: str
    score: float
    title: str
    explanation: dict[str, Any]
    record_ids: list[int] = field(default_factory=list)
    record_kind: str = "customs_declaration"
    entity_ids: list[int] = field(default_factory=list)
    trader_codes: list[str] = field(default_factory=list)
    goods_chapter: str = ""
    country: str = ""
    customs_office_code: str = ""
    occurred_on: datetime.date | None = None

    @property
    def severity(self) -> Severity:
        return severity_for(self.score)


def severity_for(score: float) -> Severity:
    if score >= 0.9:
        return Severity.CRITICAL
    if score >= 0.75:
        return Severity.HIGH
    if score >= 0.5:
        return Severity.MEDIUM
    return Severity.LOW


@dataclass
class DetectionContext:
    """What one detection run sees: the declarations, the rows findings may be raised on, and lazy extras."""

    frame: pd.DataFrame
    organization_id: int | None = None
    # Rows anomalies may be raised on (the freshly loaded dataset); peers and history use the whole frame.
    scope: npt.NDArray[np.bool_] | None = None
    registry_loader: Callable[[], pd.DataFrame] | None = None
    mirror: pd.DataFrame | None = None
    # Scores of the detectors that already ran, by name (the risk model reads them as features).
    scores: dict[str, FloatArray] = field(default_factory=dict)
    # Threads the run may use (``None``: ``ANOMALIES_WORKERS``); the scores are the same with any number.
    workers: int | None = None
    _registry: pd.DataFrame | None = None
    _columns: FrameColumns | None = None

    @property
    def columns(self) -> FrameColumns:
        """The frame's column encodings, shared by the detectors of the run."""
        if self._columns is None or self._columns.frame is not self.frame:
            self._columns = FrameColumns(self.frame)
        return self._columns

    @property
    def registry(self) -> pd.DataFrame | None:
        if self._registry is None and self.registry_loader is not None:
            self._registry = self.registry_loader()
        return self._registry

    def threads(self) -> int:
        return scoring_workers() if self.workers is None else max(1, self.workers)

    def in_scope(self) -> npt.NDArray[np.bool_]:
        if self.scope is None:
            return np.ones(len(self.frame), dtype=bool)
        return self.scope


def bilingual(message: str | Promise, values: Mapping[str, Any]) -> dict[str, str]:
    """``message % values`` in English and Ukrainian."""
    texts = {}
    for language in LANGUAGES:
        with translation.override(language):
            texts[language] = str(message) % values
    return texts


def per_language(messages: Mapping[str, str | Promise]) -> dict[str, dict[str, str]]:
    """Each message translated into every language, once: ``{language: {name: text}}``."""
    texts = {}
    for language in LANGUAGES:
        with translation.override(language):
            texts[language] = {name: str(message) for name, message in messages.items()}
    return texts


class Templates:
    """A detector's sentences rendered once per language, then filled row by row (cheap for thousands of rows)."""

    def __init__(self, **messages: str | Promise) -> None:
        self._texts = per_language(messages)
        with translation.override("uk"):
            self._title = {name: str(message) for name, message in messages.items()}

    def render(self, name: str, values: Mapping[str, Any]) -> dict[str, str]:
        return {language: texts[name] % values for language, texts in self._texts.items()}

    def title(self, name: str, values: Mapping[str, Any]) -> str:
        return self._title[name] % values


def factor(feature: str, value: Any, peer: Any, contribution: float) -> dict[str, Any]:
    return {"feature": feature, "value": value, "peer": peer, "contribution": round(float(contribution), 4)}


def money(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ")


class Detector:
    name: ClassVar[str]
    label: ClassVar[str | Promise]
    description: ClassVar[str | Promise] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # Whether ``score`` may run in a worker thread: not if it reads the database itself.
    threaded: ClassVar[bool] = True
    # Whether ``score`` reads other detectors' scores (``context.scores``): then it runs after all of them.
    reads_scores: ClassVar[bool] = False
    base_defaults: ClassVar[dict[str, Any]] = {"threshold": 0.5, "max_findings": 2000}

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        defaults = {**self.base_defaults, **self.defaults}
        unknown = set(params or {}) - set(defaults)
        if unknown:
            raise ValueError(f"detector {self.name!r} has no parameters {sorted(unknown)}")
        self.params: dict[str, Any] = {**defaults, **(params or {})}

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {**cls.base_defaults, **cls.defaults}

    def prepare(self, context: DetectionContext) -> None:
        """Database reads the scoring needs, done in the calling thread before ``score`` (which may run in another
        thread, without the caller's connection or transaction)."""

    def precompute(self, context: DetectionContext) -> None:
        """For a detector that ``reads_scores``: the part of its work that does not, run alongside the others."""

    def score(self, context: DetectionContext) -> FloatArray | None:
        """One score per declaration in [0, 1], or ``None`` for detectors about something else."""
        return None

    def findings(self, context: DetectionContext, scores: FloatArray | None) -> list[Finding]:
        """By default one finding per declaration in scope at or above the threshold, strongest first."""
        if scores is None:
            return []
        eligible = np.flatnonzero(context.in_scope() & (scores >= float(self.params["threshold"])))
        if not len(eligible):
            return []
        if len(eligible) > int(self.params["max_findings"]):
            order = np.argsort(-scores[eligible], kind="stable")
            eligible = eligible[order[: int(self.params["max_findings"])]]
        return self.explain(context, eligible, scores)

    def explain(self, context: DetectionContext, positions: npt.NDArray[np.int64], scores: FloatArray) -> list[Finding]:
        raise NotImplementedError

    def row_finding(self, context: DetectionContext, position: int, score: float, **kwargs: Any) -> Finding:
        """A finding about one declaration, with the feed's coordinates filled from the row."""
        row = context.frame.iloc[position]
        date = row["declaration_date"]
        return Finding(
            detector=self.name,
            dedup_key=f"{self.name}:{int(row['id'])}",
            score=round(min(max(float(score), 0.0), 1.0), 4),
            record_ids=[int(row["id"])],
            trader_codes=[str(row["trader_code"])] if row["trader_code"] else [],
            goods_chapter=str(row["goods_code"])[:2],
            country=str(row["origin_country"] or row["counterparty_country"]),
            customs_office_code=str(row["customs_office_code"]),
            occurred_on=date.date() if not pd.isna(date) else None,
            **kwargs,
        )


DETECTORS: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available by its ``name``."""
    if cls.name in DETECTORS and DETECTORS[cls.name] is not cls:
        raise ValueError(f"two detectors named {cls.name!r}")
    DETECTORS[cls.name] = cls
    return cls
