"""Encodings of a declarations frame's columns, each computed once per detection run and shared by every detector
and the risk model, and the small thread pool a run spreads its work over.

Factorising a text column of millions of rows, or comparing it with a constant, costs a fraction of a second;
five detectors each doing it for the same goods code, trader or direction added seconds to every run. Anything
derived from a text value (the HS6 subheading of a goods code, a country's number) is computed once per distinct
value and spread to the rows by their codes.

Every method gives the same values as the plain pandas expression it replaces (``pd.factorize``, ``.str.slice``,
``== "import"``), so detectors mean exactly what they meant; it is only cheaper to ask twice. The cache is safe to
use from several threads: each entry is computed once, under its own lock.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from django.conf import settings

IMPORT = "import"
# Fewer rows than this are not worth a thread pool (starting one costs about a millisecond).
PARALLEL_MIN_ROWS = 50_000
# Rows per slice of a model's predictions: bounds the copies of the input it makes, costs nothing measurable.
SLICE_ROWS = 250_000
T = TypeVar("T")


def scoring_workers() -> int:
    """Threads a detection run uses (``ANOMALIES_WORKERS``; default: two, or one on a one-core machine)."""
    default = min(2, os.cpu_count() or 1)
    return max(1, int(getattr(settings, "ANOMALIES_WORKERS", default)))


def chunked_rows(
    function: Callable[[Any], npt.NDArray[Any]],
    rows: npt.NDArray[Any],
    workers: int,
    *,
    min_rows: int | None = None,
    slice_rows: int | None = None,
) -> npt.NDArray[Any]:
    """``function(rows)`` computed on contiguous slices of the rows, on ``workers`` threads at once (from
    ``min_rows`` rows on), and put back together.

    For per-row computations that release the GIL (tree traversal in scikit-learn's compiled code): the result is
    exactly the serial one, and each thread runs its own slice single-threaded, so there is no OpenMP team
    spinning against another program's threads on a shared machine. Slices hold at most ``slice_rows`` rows, so
    the copies the function makes of its input (scikit-learn converts to float64) stay small.
    """
    parallel = workers > 1 and len(rows) >= (PARALLEL_MIN_ROWS if min_rows is None else min_rows)
    count = math.ceil(len(rows) / (SLICE_ROWS if slice_rows is None else slice_rows))
    count = max(count, workers if parallel else 1)
    if count <= 1:
        return function(rows)
    bounds = np.linspace(0, len(rows), count + 1).astype(int)
    slices = [rows[start:stop] for start, stop in itertools.pairwise(bounds)]
    if not parallel:
        return np.concatenate([function(part) for part in slices])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anomalies-rows") as pool:
        return np.concatenate(list(pool.map(function, slices)))


class FrameColumns:
    """Cached encodings of one frame's columns; the frame must not change while it is in use."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._values: dict[tuple[Any, ...], Any] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            value: T = self._values[key]
            return value

    def factorized(self, column: str) -> tuple[npt.NDArray[np.int64], pd.Index]:
        """``pd.factorize`` of the column: codes in order of first appearance (-1 for a missing value), uniques."""

        def compute() -> tuple[npt.NDArray[np.int64], pd.Index]:
            codes, uniques = pd.factorize(self.frame[column], use_na_sentinel=True)
            return np.asarray(codes, dtype=np.int64), pd.Index(uniques)

        return self._cached(("factorized", column), compute)

    def codes(self, column: str) -> npt.NDArray[np.int64]:
        return self.factorized(column)[0]

    def per_value(
        self, column: str, name: str, function: Callable[[pd.Series], pd.Series | npt.NDArray[Any]]
    ) -> npt.NDArray[Any]:
        """``function`` (element-wise over a string series) applied to every row, computed once per distinct value.

        ``name`` identifies the function in the cache. A missing value gets what ``function`` gives a missing one.
        """

        return self._cached(("per_value", column, name), lambda: self.mapped(column, function))

    def mapped(self, column: str, function: Callable[[pd.Series], pd.Series | npt.NDArray[Any]]) -> npt.NDArray[Any]:
        """``function`` of every row's value, computed once per distinct value (not cached)."""
        codes, uniques = self.factorized(column)
        values = pd.Series([*uniques, None], dtype=self.frame[column].dtype)
        # The missing value's result sits last, where a code of -1 picks it.
        return np.asarray(function(values)).take(codes)

    def equals(self, column: str, value: str) -> npt.NDArray[np.bool_]:
        """``frame[column] == value`` as booleans (missing is not equal)."""
        return self.per_value(column, f"equals:{value}", lambda values: (values == value).fillna(False).to_numpy(bool))

    def is_import(self) -> npt.NDArray[np.bool_]:
        return self.equals("direction", IMPORT)

    def days(self) -> npt.NDArray[np.int64]:
        return self._cached(
            ("days",),
            lambda: np.asarray(self.frame["declaration_date"].to_numpy().astype("datetime64[D]").astype(np.int64)),
        )

    def months(self) -> npt.NDArray[np.int64]:
        return self._cached(
            ("months",),
            lambda: np.asarray(self.frame["declaration_date"].to_numpy().astype("datetime64[M]").astype(np.int64)),
        )

    def floats(self, column: str) -> npt.NDArray[np.float64]:
        return self._cached(
            ("floats", column),
            lambda: np.asarray(self.frame[column].to_numpy(dtype=np.float64, na_value=np.nan)),
        )
