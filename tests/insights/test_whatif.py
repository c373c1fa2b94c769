"""The what-if simulator: the arithmetic from the validation curve and the volume, and the page."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Organization, User
from apps.anomalies.models import MLModel, ModelStatus
from apps.anomalies.services import anomalies_store
from apps.insights.views import curve_at, whatif_compute
from tests.anomalies.data import crafted_rows, load_declarations
from tests.anomalies.test_feed import finding

METRICS = {
    "rows": 1000,
    "frauds": 50,
    "revenue_total": 1_000_000.0,
    "curve": [
        {"percent": percent, "precision": max(0.05, 0.9 - 0.02 * percent), "recall": min(1.0, 0.18 * percent),
         "revenue": min(1.0, 0.2 * percent)}
        for percent in range(1, 101)
    ],
}  # fmt: skip


def test_curve_interpolates_between_percents() -> None:
    assert curve_at(METRICS["curve"], 2.5)["recall"] == pytest.approx(0.45)
    assert curve_at(METRICS["curve"], 0)["recall"] == 0.0
    assert curve_at(METRICS["curve"], 150)["recall"] == 1.0


def test_whatif_figures() -> None:
    result = whatif_compute(metrics=METRICS, volume=20_000, rate=5)
    assert result["checks"] == 1000
    assert result["frauds_total"] == 1000  # 5 % of declarations are frauds
    assert result["frauds_caught"] == pytest.approx(900)  # recall 0.9 at 5 %
    assert result["revenue_recovered"] == pytest.approx(20_000_000)  # all of it at 5 %
    lower = whatif_compute(metrics=METRICS, volume=20_000, rate=1)
    assert lower["checks"] == 200
    assert lower["frauds_caught"] < result["frauds_caught"]


@pytest.mark.django_db
def test_whatif_page(organization: Organization, supervisor: User, investigator: User) -> None:
    client = Client()
    client.force_login(supervisor)
    assert "No risk model is deployed yet" in client.get(reverse("insights:whatif")).content.decode()

    rows, _planted = crafted_rows()
    load_declarations(organization, rows)
    day = datetime.date(2024, 1, 1)
    MLModel.objects.create(
        organization=organization, version=3, status=ModelStatus.DEPLOYED, metrics=METRICS,
        train_from=day, train_to=day, test_from=day, test_to=day,
    )  # fmt: skip
    anomalies_store(organization_id=organization.pk, findings=[finding(n, score=0.3 + n / 20) for n in range(10)])
    page = client.get(reverse("insights:whatif"), {"rate": "10", "threshold-unit-value": "0.6"})
    assert page.status_code == 200
    context = page.context
    latest = max(row["declaration_date"] for row in rows)
    volume = sum(1 for row in rows if row["declaration_date"] > latest - datetime.timedelta(days=30))
    assert context["volume"] == volume
    assert context["result"]["checks"] == -(-volume * 10 // 100)
    [detector] = context["detectors"]
    assert (detector["name"], detector["anomalies"]) == ("unit-value", 4)  # scores 0.6 … 0.75
    html = page.content.decode()
    assert 'id="whatif-chart"' in html
    assert "whatif.js" in html
    assert 'id="whatif-data"' in html

    denied = Client()
    denied.force_login(investigator)
    assert denied.get(reverse("insights:whatif")).status_code == 403
