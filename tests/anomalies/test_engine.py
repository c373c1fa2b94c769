"""One detection run: on several threads it scores and finds exactly what it does on one; the shared column
encodings are the pandas expressions they replace; the history encodings count what happened on earlier days."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.anomalies import columns as columns_module
from apps.anomalies.columns import FrameColumns, chunked_rows
from apps.anomalies.detectors import DetectionContext
from apps.anomalies.engine import RISK_DETECTOR, detect, risk_train
from apps.anomalies.risk import HISTORY_KEYS, PRIOR_WEIGHT, history_features
from apps.anomalies.synthetic import synthetic_declarations, synthetic_mirror, synthetic_registry
from apps.datasets.synthetic.config import GeneratorConfig
from apps.datasets.synthetic.generator import generate


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    directory: Path = tmp_path_factory.mktemp("customs")
    generate(GeneratorConfig(rows=20_000, seed=5), directory)
    return synthetic_declarations(directory), synthetic_registry(directory), synthetic_mirror(directory)


def test_parallel_detection_scores_and_finds_exactly_what_serial_does(
    generated: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of rows go to several threads at this size too (isolation forest, gradient boosting).
    monkeypatch.setattr(columns_module, "PARALLEL_MIN_ROWS", 1000)
    frame, registry, mirror = generated

    def context() -> DetectionContext:
        return DetectionContext(frame=frame, registry_loader=lambda: registry, mirror=mirror)

    training_scores = detect(context(), {}, enabled={RISK_DETECTOR: False}, with_findings=False, workers=1).scores
    bundle = risk_train(frame, training_scores).bundle
    serial = detect(context(), {}, bundle=bundle, workers=1)
    parallel = detect(context(), {}, bundle=bundle, workers=2)

    assert list(parallel.scores) == list(serial.scores)
    assert RISK_DETECTOR in serial.scores
    for name, scores in serial.scores.items():
        np.testing.assert_array_equal(parallel.scores[name], scores, err_msg=name)
    assert serial.scores["isolation-forest"].std() > 0
    assert serial.scores[RISK_DETECTOR].std() > 0

    def described(findings: list) -> list:
        return [(finding.detector, finding.dedup_key, finding.score, finding.explanation) for finding in findings]

    assert described(parallel.findings) == described(serial.findings)
    assert {finding.detector for finding in serial.findings} >= {"unit-value", "split-shipment", RISK_DETECTOR}
    assert set(parallel.seconds) == set(serial.seconds)


def test_row_slices_on_threads_give_the_function_of_all_rows() -> None:
    rows = np.arange(10_001, dtype=np.float64).reshape(-1, 1)
    calls: list[tuple[str, int]] = []

    def square(part: np.ndarray) -> np.ndarray:
        calls.append((threading.current_thread().name, len(part)))
        return part[:, 0] ** 2

    together = chunked_rows(square, rows, 3, min_rows=1)
    np.testing.assert_array_equal(together, rows[:, 0] ** 2)
    assert sorted(size for _name, size in calls) == [3333, 3334, 3334]
    assert all(name.startswith("anomalies-rows") for name, _size in calls)
    calls.clear()
    chunked_rows(square, rows, 3)  # below the default size: one call, in this thread
    assert calls == [(threading.current_thread().name, len(rows))]


def test_column_encodings_are_the_pandas_expressions() -> None:
    frame = pd.DataFrame(
        {
            "direction": pd.Series(["import", "export", None, "import", "IMPORT"], dtype="string"),
            "goods_code": pd.Series(["2208601100", "22", None, "0803901000", "2208601100"], dtype="string"),
            "net_mass_kg": [1.0, None, 3.0, 4.0, 5.0],
        }
    )
    columns = FrameColumns(frame)
    codes, uniques = pd.factorize(frame["goods_code"], use_na_sentinel=True)
    np.testing.assert_array_equal(columns.codes("goods_code"), codes)
    assert list(columns.factorized("goods_code")[1]) == list(uniques)
    assert columns.is_import().tolist() == [True, False, False, True, False]
    subheading = columns.per_value("goods_code", "hs6", lambda values: values.str.slice(0, 6))
    assert [None if pd.isna(value) else value for value in subheading] == ["220860", "22", None, "080390", "220860"]
    # Asked again, the same array comes back without being computed again.
    assert columns.per_value("goods_code", "hs6", lambda values: values.str.slice(0, 1)) is subheading
    np.testing.assert_array_equal(columns.floats("net_mass_kg"), [1.0, np.nan, 3.0, 4.0, 5.0])


def test_history_features_count_the_keys_earlier_days_whatever_the_row_order() -> None:
    rng = np.random.default_rng(8)
    rows = 300
    outcome = np.where(rng.random(rows) < 0.5, (rng.random(rows) < 0.3).astype(float), np.nan)
    frame = pd.DataFrame(
        {
            "declaration_date": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 20, rows), unit="D"),
            "fraud_found": outcome,
        },
        index=rng.permutation(rows) + 1000,
    )
    for key in HISTORY_KEYS:
        values = rng.choice(["A", "B", "C", "D", None], rows)
        frame[key] = pd.Series(values, index=frame.index, dtype="string")
    features = history_features(frame)
    assert list(features.index) == list(frame.index)

    day = frame["declaration_date"].to_numpy()
    labelled = ~np.isnan(outcome)
    for position in rng.choice(rows, 40, replace=False):
        before = day < day[position]
        prior = (np.nansum(outcome[before]) + 1.0) / (labelled[before].sum() + 50.0)
        for key in HISTORY_KEYS:
            short = key.removesuffix("_code")
            value = frame[key].iat[position]
            row = features.iloc[position]
            if pd.isna(value):
                assert np.isnan(row[f"{short}_rows"])
                assert np.isnan(row[f"{short}_fraud_rate"])
                continue
            earlier = before & (frame[key] == value).fillna(False).to_numpy()
            inspected = labelled[earlier].sum()
            found = np.nansum(outcome[earlier])
            assert row[f"{short}_rows"] == pytest.approx(np.log1p(earlier.sum()))
            assert row[f"{short}_inspected"] == inspected
            assert row[f"{short}_fraud_rate"] == pytest.approx(
                (found + PRIOR_WEIGHT * prior) / (inspected + PRIOR_WEIGHT)
            )
