"""Detection over the database: the post-load hook after entity resolution, findings stored once with both
languages, entity links, settings from the database, the VAT carousel from the graph analysis."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.accounts.models import Organization
from apps.anomalies.models import Anomaly, DetectorConfig, MirrorStatistic
from apps.anomalies.services import anomalies_detect, detector_settings
from apps.datasets.hooks import post_load_hooks
from apps.datasets.models import CustomsDeclaration
from apps.entities.models import Entity, EntityIdentifier, EntityKind, GraphAnalysis, GraphCycle, IdentifierScheme
from tests.anomalies.data import SHELL, SPLITTER, crafted_rows, load_declarations, load_registry

pytestmark = pytest.mark.django_db


def test_detection_is_the_post_load_hook_after_entity_resolution() -> None:
    names = [name for name, _hook in post_load_hooks()]
    assert names.index("entities.resolve") < names.index("anomalies.detect")


def test_a_detection_run_raises_each_planted_scheme_once_with_both_languages(
    organization: Organization, other_organization: Organization
) -> None:
    rows, planted = crafted_rows()
    load_registry(organization)
    shell = Entity.objects.create(organization=organization, kind=EntityKind.COMPANY, name="ТОВ «Шелл»")
    EntityIdentifier.objects.create(
        organization=organization, entity=shell, scheme=IdentifierScheme.EDRPOU, value=SHELL
    )
    first = load_declarations(organization, rows[: len(rows) // 2], name="перша половина")
    second = load_declarations(organization, rows[len(rows) // 2 :], name="друга половина")
    load_declarations(other_organization, rows, name="чужі")

    stats = anomalies_detect(organization_id=organization.pk, dataset_id=second.pk)
    assert stats["declarations"] == len(rows)
    anomalies = Anomaly.objects.filter(organization=organization)
    assert stats["created"] == anomalies.count() > 0
    detectors = set(anomalies.values_list("detector", flat=True))
    assert {"unit-value", "split-shipment", "shell-company"} <= detectors
    for anomaly in anomalies:
        assert anomaly.explanation["en"].strip()
        assert anomaly.explanation["uk"].strip()
        assert anomaly.explanation["factors"]
    # Only the second dataset's rows are reported on; the first one's served as peers.
    record_ids = {record["id"] for anomaly in anomalies for record in anomaly.records}
    datasets = set(CustomsDeclaration.objects.filter(pk__in=record_ids).values_list("dataset_id", flat=True))
    assert datasets == {second.pk} != {first.pk}
    # The shell finding names the resolved entity.
    shell_anomaly = anomalies.get(detector="shell-company")
    assert list(shell_anomaly.entities.all()) == [shell]
    split = anomalies.get(detector="split-shipment")
    assert len(split.records) == len(planted.split)
    assert SPLITTER not in split.title  # a sole trader's tax number is personal: titles name the goods
    # Nothing about another organisation, and running again changes nothing.
    assert not Anomaly.objects.filter(organization=other_organization).exists()
    again = anomalies_detect(organization_id=organization.pk, dataset_id=second.pk)
    assert again["created"] == 0
    assert Anomaly.objects.filter(organization=organization).count() == stats["created"]


def test_detector_settings_live_in_the_database(organization: Organization) -> None:
    rows, _planted = crafted_rows()
    load_declarations(organization, rows)
    params, enabled = detector_settings(organization_id=organization.pk)
    assert DetectorConfig.objects.filter(organization=organization).count() == len(params) == len(enabled)
    DetectorConfig.objects.filter(organization=organization, name="split-shipment").update(enabled=False)
    DetectorConfig.objects.filter(organization=organization, name="unit-value").update(
        params={"threshold": 0.99, "z_midpoint": 30.0}
    )
    anomalies_detect(organization_id=organization.pk)
    detectors = set(Anomaly.objects.filter(organization=organization).values_list("detector", flat=True))
    assert "split-shipment" not in detectors
    assert "unit-value" not in detectors


def test_vat_carousel_from_the_latest_graph_analysis(organization: Organization) -> None:
    ring = [
        Entity.objects.create(organization=organization, kind=EntityKind.COMPANY, name=f"ТОВ «Коло {n}»")
        for n in range(3)
    ]
    old = GraphAnalysis.objects.create(organization=organization, status=GraphAnalysis.Status.DONE)
    GraphCycle.objects.create(
        organization=organization, analysis=old, entity_ids=[ring[0].pk, ring[2].pk], length=2, record_count=9
    )
    latest = GraphAnalysis.objects.create(organization=organization, status=GraphAnalysis.Status.DONE)
    for start in (0, 1):  # the same ring found twice from different members is one finding
        ids = [ring[(start + n) % 3].pk for n in range(3)]
        GraphCycle.objects.create(
            organization=organization,
            analysis=latest,
            entity_ids=ids,
            length=3,
            amount_uah=Decimal("6000000.00"),
            record_count=9,
            first_date=datetime.date(2024, 3, 1),
            last_date=datetime.date(2024, 4, 1),
        )
    anomalies_detect(organization_id=organization.pk)
    carousel = Anomaly.objects.get(organization=organization, detector="vat-carousel")
    assert set(carousel.entities.all()) == set(ring)
    assert carousel.score == 1.0
    assert "ТОВ «Коло 0»" in carousel.explanation["en"]
    assert carousel.occurred_on == datetime.date(2024, 4, 1)


def test_mirror_statistics_loaded_and_used(organization: Organization, tmp_path: Path) -> None:
    rows, _planted = crafted_rows()
    load_declarations(organization, rows)
    declared: dict[tuple[str, str, str], float] = {}
    for row in rows:
        key = (row["origin_country"], row["goods_code"][:6], row["declaration_date"].strftime("%Y-%m"))
        declared[key] = declared.get(key, 0.0) + row["customs_value_uah"] / 40.0
    lines = ["Країна-партнер,Код товару (HS6),Місяць,Експорт"]
    for (country, hs6, month), usd in declared.items():
        inflated = 3.0 if (country, hs6) == ("PL", "220900") else 1.0
        lines.append(
            f"{country},{hs6},{month},{usd * inflated + 60000:.2f}"
            if inflated > 1
            else f"{country},{hs6},{month},{usd:.2f}"
        )
    path = tmp_path / "mirror.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    call_command("load_mirror_statistics", str(path), organization=organization.slug, stdout=io.StringIO())
    call_command("load_mirror_statistics", str(path), organization=organization.slug, stdout=io.StringIO())
    assert MirrorStatistic.objects.filter(organization=organization).count() == len(declared)
    anomalies_detect(organization_id=organization.pk)
    mirror = Anomaly.objects.filter(organization=organization, detector="mirror-mismatch")
    assert mirror.exists()
    assert {anomaly.dedup_key.split(":")[2] for anomaly in mirror} == {"220900"}
    assert all(anomaly.country == "PL" and anomaly.records for anomaly in mirror)
