"""The risk model: history encodings see only the past, the split trains on the past and tests on the latest
period, the metrics mean what they say, a worse candidate is never promoted, drift raises an alert."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from apps.accounts.models import Organization, User
from apps.anomalies.engine import risk_train
from apps.anomalies.models import DriftAlert, MLModel, ModelStatus
from apps.anomalies.risk import history_features, ranking_metrics, time_split
from apps.anomalies.services import WORSE_CANDIDATE, risk_drift_check, risk_model_promote, risk_model_train
from apps.core.errors import DomainError
from tests.anomalies.data import crafted_frame, crafted_rows, load_declarations


def labelled_frame(seed: int = 3, rows: int = 3000) -> pd.DataFrame:
    """Declarations over a year; traders 0-9 cheat (their inspections mostly find fraud), the rest do not."""
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, rows)), unit="D")
    trader = rng.integers(0, 60, rows)
    dishonest = trader < 10
    fraud = np.where(rng.random(rows) < np.where(dishonest, 0.7, 0.02), 1.0, 0.0)
    inspected = rng.random(rows) < 0.5
    value = rng.lognormal(10, 1, rows)
    frame = pd.DataFrame(
        {
            "id": np.arange(1, rows + 1),
            "declaration_date": dates,
            "direction": "import",
            "trader_code": [f"T{code:03d}" for code in trader],
            "declarant_code": [f"D{code % 7}" for code in trader],
            "goods_code": rng.choice(["6110209100", "2208601100", "0803901000"], rows),
            "customs_office_code": rng.choice(["UA100010", "UA209170"], rows),
            "origin_country": rng.choice(["CN", "PL", "TR"], rows),
            "counterparty_country": "CN",
            "customs_value_uah": value,
            "net_mass_kg": rng.lognormal(6, 1, rows),
            "duty_uah": value * 0.1,
            "vat_uah": value * 0.2,
            "excise_uah": 0.0,
            "fraud_found": np.where(inspected, fraud, np.nan),
            "additional_revenue_uah": np.where(inspected, fraud * value * 0.3, np.nan),
        }
    )
    from apps.anomalies.frame import declarations_normalize

    return declarations_normalize(frame)


def test_history_features_use_only_earlier_days() -> None:
    frame = labelled_frame()
    features = history_features(frame)
    cut = pd.Timestamp("2024-07-01")
    past = (frame["declaration_date"] < cut).to_numpy()

    rewritten = frame.copy()
    future = ~past
    rewritten.loc[future, "fraud_found"] = 1.0 - rewritten.loc[future, "fraud_found"].fillna(0.0)
    rewritten.loc[future, "trader_code"] = "T999"
    again = history_features(rewritten)
    # Nothing that happens from the cut on changes any feature of an earlier declaration.
    pd.testing.assert_frame_equal(features[past], again[past])

    # Rows of the same day never see each other's outcomes.
    day = frame["declaration_date"] == frame["declaration_date"].iloc[100]
    same_day = frame[day].copy()
    same_day["fraud_found"] = 1.0
    mixed = pd.concat([frame[~day], same_day]).sort_values(["declaration_date", "id"])
    pd.testing.assert_frame_equal(
        history_features(mixed).loc[day[day].index], features.loc[day[day].index], check_like=True
    )


def test_a_trader_history_counts_inspections_before_the_day() -> None:
    frame = labelled_frame()
    features = history_features(frame)
    row = 2500
    trader = frame["trader_code"].iat[row]
    earlier = (frame["trader_code"] == trader) & (frame["declaration_date"] < frame["declaration_date"].iat[row])
    assert features["trader_inspected"].iat[row] == frame.loc[earlier, "fraud_found"].notna().sum()
    assert features["trader_rows"].iat[row] == pytest.approx(np.log1p(earlier.sum()))


def test_time_split_trains_on_the_past_and_tests_on_the_latest_period() -> None:
    frame = labelled_frame()
    split = time_split(frame, test_share=0.25)
    dates = frame["declaration_date"]
    assert dates[split.train].max() < split.cutoff <= dates[split.test].min()
    assert not (split.train & split.test).any()
    labelled = frame["fraud_found"].notna()
    assert (split.train | split.test).sum() == labelled.sum()
    assert 0.2 < split.test.sum() / labelled.sum() < 0.3

    training = risk_train(frame, {})
    assert training.train_to < training.test_from
    # The dishonest traders' history is learned: the model ranks well on the period it never saw.
    assert training.metrics["auc"] > 0.85
    assert training.metrics["precision@5"] > 0.6


def test_ranking_metrics() -> None:
    outcome = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1] * 10, dtype=float)
    revenue = outcome * np.arange(100)
    score = outcome + np.linspace(0, 0.5, 100)  # every fraud above every clean row
    metrics = ranking_metrics(outcome, score, revenue)
    assert metrics["auc"] == 1.0
    assert metrics["precision@10"] == 1.0
    assert metrics["recall@10"] == pytest.approx(10 / 30)
    assert metrics["precision@1"] == 1.0
    assert metrics["curve"][29]["recall"] == 1.0
    assert metrics["curve"][-1]["revenue"] == pytest.approx(1.0)
    top_ten = np.argsort(-score)[:10]
    assert metrics["revenue@10"] == pytest.approx(revenue[top_ten].sum() / revenue.sum())


@pytest.mark.django_db
def test_candidate_deployed_only_when_better_and_worse_one_refused(
    organization: Organization, supervisor: User
) -> None:
    rows, _planted = crafted_rows(seed=5, honest=900)
    # The crafted traders whose code ends in 1 cheat: most of their inspections find fraud.
    for row in rows:
        if row["fraud_found"] is not None:
            row["fraud_found"] = row["trader_code"].endswith("1") and row["declaration_number"][-1] != "7"
            row["additional_revenue_uah"] = 1000.0 if row["fraud_found"] else 0.0
    load_declarations(organization, rows)

    first = risk_model_train(organization_id=organization.pk, actor=supervisor)
    assert first.status == ModelStatus.DEPLOYED
    assert (first.promoted_by, first.metrics["comparison"]["better"]) == (supervisor, True)
    assert first.artefact.name.endswith(".joblib")
    assert first.train_to < first.test_from

    # The same data again: the candidate is no better than the deployed model, so it stays a candidate.
    second = risk_model_train(organization_id=organization.pk, actor=supervisor)
    second.refresh_from_db()
    assert second.status == ModelStatus.CANDIDATE
    comparison = second.metrics["comparison"]
    assert comparison["deployed_version"] == first.version
    assert comparison["better"] is False
    assert comparison["deployed"]["precision@5"] >= comparison["candidate"]["precision@5"]
    with pytest.raises(DomainError, match=str(WORSE_CANDIDATE)):
        risk_model_promote(model=second, actor=supervisor)
    first.refresh_from_db()
    assert first.status == ModelStatus.DEPLOYED
    assert MLModel.objects.filter(organization=organization, status=ModelStatus.DEPLOYED).count() == 1

    # A candidate that beat the deployed model replaces it, which retires.
    second.metrics["comparison"]["better"] = True
    second.save()
    risk_model_promote(model=second, actor=supervisor)
    first.refresh_from_db()
    assert (first.status, second.status) == (ModelStatus.RETIRED, ModelStatus.DEPLOYED)


@pytest.mark.django_db
def test_drift_alert_when_precision_on_new_labels_drops(organization: Organization, supervisor: User) -> None:
    rows, _planted = crafted_rows(seed=6, honest=900)
    for row in rows:
        if row["fraud_found"] is not None:
            row["fraud_found"] = row["trader_code"].endswith("1")
            row["additional_revenue_uah"] = 1000.0 if row["fraud_found"] else 0.0
    load_declarations(organization, rows)
    model = risk_model_train(organization_id=organization.pk, actor=supervisor)
    assert model.status == ModelStatus.DEPLOYED
    assert risk_drift_check(organization_id=organization.pk) is None  # nothing labelled since

    # New declarations after the held-out period whose outcomes contradict what the model learned.
    later = model.test_to + datetime.timedelta(days=1)
    new_rows, _planted = crafted_rows(seed=7, honest=400)
    for index, row in enumerate(new_rows):
        row["declaration_number"] = f"NEW/{index}"
        row["declaration_date"] = later
        row["fraud_found"] = not row["trader_code"].endswith("1")
        row["additional_revenue_uah"] = 10.0
    load_declarations(organization, new_rows, name="нові")

    alert = risk_drift_check(organization_id=organization.pk)
    assert alert is not None
    assert alert.recent_precision < alert.validation_precision - 0.05
    assert alert.labelled >= 400
    assert DriftAlert.objects.filter(organization=organization, resolved_at__isnull=True).count() == 1


def test_training_refuses_data_without_outcomes() -> None:
    frame, _planted = crafted_frame()
    with pytest.raises(ValueError, match=r"too few|only one outcome"):
        risk_train(frame.assign(fraud_found=np.nan), {})
