"""Each detector on crafted declarations with one planted case: the case is found, honest rows are not, and every
finding is explained in Ukrainian and English with its factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.anomalies.detectors import DETECTORS, DetectionContext, Finding
from apps.anomalies.detectors.base import Detector
from apps.anomalies.services import _check_explanation
from tests.anomalies.data import SHELL, SPLITTER, crafted_frame, crafted_registry


@pytest.fixture(scope="module")
def crafted() -> tuple[pd.DataFrame, object]:
    return crafted_frame()


def run(name: str, frame: pd.DataFrame, **params: object) -> tuple[np.ndarray, list[Finding], Detector]:
    detector = DETECTORS[name](params)
    context = DetectionContext(frame=frame, registry_loader=crafted_registry)
    scores = detector.score(context)
    assert scores is not None
    assert scores.shape == (len(frame),)
    assert np.all((scores >= 0) & (scores <= 1))
    findings = detector.findings(context, scores)
    for finding in findings:
        _check_explanation(finding.explanation)
        assert finding.explanation["en"] != finding.explanation["uk"]
        assert finding.title
        assert finding.dedup_key.startswith(f"{name}:")
    return scores, findings, detector


def numbers(frame: pd.DataFrame, findings: list[Finding]) -> set[str]:
    by_id = frame.set_index("id")["declaration_number"]
    return {str(by_id[record_id]) for finding in findings for record_id in finding.record_ids}


def test_unit_value_far_below_peers(crafted: tuple[pd.DataFrame, object]) -> None:
    frame, planted = crafted
    _scores, findings, _detector = run("unit-value", frame)
    assert numbers(frame, findings) == {planted.under_invoiced}  # type: ignore[attr-defined]
    finding = findings[0]
    assert finding.score > 0.9
    assert "below the median" in finding.explanation["en"]
    assert "нижча за медіану" in finding.explanation["uk"]
    unit_value, peer = finding.explanation["factors"][0]["value"], finding.explanation["factors"][0]["peer"]
    assert unit_value < 0.3 * peer  # planted at a fifth of the value
    assert (finding.goods_chapter, finding.country) == ("61", "CN")


def test_unit_value_ignores_small_peer_groups() -> None:
    frame, _planted = crafted_frame()
    lonely = frame.iloc[:3].copy()
    lonely["goods_code"] = "9999999999"
    lonely.loc[lonely.index[0], "customs_value_uah"] = 1.0
    scores, findings, _detector = run("unit-value", pd.concat([frame, lonely], ignore_index=True), min_peers=5)
    assert scores[-3:].tolist() == [0.0, 0.0, 0.0]
    assert not any(finding.record_ids[0] in set(lonely["id"]) for finding in findings)


def test_split_shipment_groups_the_parts(crafted: tuple[pd.DataFrame, object]) -> None:
    frame, planted = crafted
    scores, findings, _detector = run("split-shipment", frame)
    assert np.count_nonzero(scores) == len(planted.split)  # type: ignore[attr-defined]
    assert len(findings) == 1
    assert numbers(frame, findings) == set(planted.split)  # type: ignore[attr-defined]
    assert findings[0].trader_codes == [SPLITTER]
    assert findings[0].explanation["factors"][0]["value"] == 4
    # Two parts under the limit are not a split.
    fewer = frame[~frame["declaration_number"].isin(planted.split[:2])]  # type: ignore[attr-defined]
    _scores, findings, _detector = run("split-shipment", fewer.reset_index(drop=True))
    assert findings == []


def test_goods_code_text_finds_the_misclassified_row(crafted: tuple[pd.DataFrame, object]) -> None:
    frame, planted = crafted
    scores, findings, _detector = run("goods-code-text", frame, min_rows=50)
    assert planted.misclassified in numbers(frame, findings)  # type: ignore[attr-defined]
    top = findings[0]
    assert numbers(frame, [top]) == {planted.misclassified}  # type: ignore[attr-defined]
    assert "220860" in top.explanation["en"]
    # Honest rows keep low scores.
    honest = frame["declaration_number"] != planted.misclassified  # type: ignore[attr-defined]
    assert np.quantile(scores[honest.to_numpy()], 0.99) < 0.5


def test_isolation_forest_explains_each_feature(crafted: tuple[pd.DataFrame, object]) -> None:
    frame, _planted = crafted
    strange = frame.iloc[:640].copy()  # the honest rows only
    position = int(np.flatnonzero(strange["declaration_number"] == "UA100010/2024/000010")[0])
    # Excise and a high duty on goods that pay neither, and no VAT: unlike anything else.
    value = strange.loc[position, "customs_value_uah"]
    strange.loc[position, ["excise_uah", "duty_uah", "vat_uah"]] = [value * 3, value * 0.9, 0.0]
    _scores, findings, _detector = run("isolation-forest", strange, threshold=0.0, max_findings=1)
    assert findings[0].record_ids == [int(strange["id"].iat[position])]
    factors = {factor["feature"]: factor["contribution"] for factor in findings[0].explanation["factors"]}
    assert set(factors) == {"log_value", "log_mass", "log_unit_value", "duty_rate", "vat_rate", "excise_rate"}
    top_three = sorted(factors, key=lambda name: -factors[name])[:3]
    assert {"excise_rate", "duty_rate", "vat_rate"} & set(top_three)
    assert factors["log_mass"] < max(factors.values())


def test_shell_company_signals_from_the_register(crafted: tuple[pd.DataFrame, object]) -> None:
    frame, _planted = crafted
    scores, findings, _detector = run("shell-company", frame)
    assert [finding.dedup_key for finding in findings] == [f"shell-company:{SHELL}"]
    features = {factor["feature"] for factor in findings[0].explanation["factors"]}
    assert features == {"fresh", "volume", "capital", "mass_address", "shared_director"}
    shell_rows = (frame["trader_code"] == SHELL).to_numpy()
    assert scores[shell_rows].min() == pytest.approx(1.0)
    assert scores[~shell_rows].max() < 0.6
    # Without the register nobody is called a shell.
    bare = DETECTORS["shell-company"]()
    assert bare.score(DetectionContext(frame=frame)).max() == 0.0


def test_mirror_mismatch_against_partner_figures(crafted: tuple[pd.DataFrame, object]) -> None:
    frame, _planted = crafted
    month = frame["declaration_date"].dt.strftime("%Y-%m")
    cells = frame.assign(month=month, hs6=frame["goods_code"].str.slice(0, 6))
    declared = cells[cells["origin_country"] == "PL"].groupby(["hs6", "month"])["customs_value_uah"].sum() / 40.0
    mirror = pd.DataFrame(
        [
            {"country": "PL", "hs6": hs6, "month": month, "partner_usd": value * (3.0 if hs6 == "220900" else 1.02)}
            for (hs6, month), value in declared.items()
            if value > 0
        ]
    )
    detector = DETECTORS["mirror-mismatch"]({"min_partner_usd": 0.0})
    context = DetectionContext(frame=frame, mirror=mirror)
    scores = detector.score(context)
    findings = detector.findings(context, scores)
    flagged = {finding.dedup_key.split(":")[2] for finding in findings}
    assert flagged == {"220900"}
    assert all(finding.country == "PL" for finding in findings)
    for finding in findings:
        _check_explanation(finding.explanation)


def test_every_detector_is_registered_with_its_parameters() -> None:
    assert list(DETECTORS) == [
        "unit-value", "split-shipment", "goods-code-text", "isolation-forest", "shell-company", "vat-carousel",
        "mirror-mismatch", "watchlist", "risk-model",
    ]  # fmt: skip
    for name, detector in DETECTORS.items():
        assert {"threshold", "max_findings"} <= detector.parameters().keys(), name
    with pytest.raises(ValueError, match="no parameters"):
        DETECTORS["unit-value"]({"nonsense": 1})
