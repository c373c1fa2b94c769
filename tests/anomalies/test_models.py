"""The Anomaly every detector raises: idempotent on its key per organisation, always explained, statuses audited."""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Organization, User
from apps.anomalies.models import Anomaly, AnomalyStatus, Severity
from apps.anomalies.services import anomaly_raise, anomaly_status_set
from apps.core.errors import DomainError
from apps.entities.models import Entity, EntityKind
from apps.privacy.masking import PIIKind, pii_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PERSON = "Шевченко Тарас Григорович"


def explanation(**overrides: Any) -> dict[str, Any]:
    return {
        "en": "Unit value 80% below peers.",
        "uk": "Митна вартість на 80% нижча за аналогічні.",
        "factors": [{"feature": "unit_value", "value": 1.2, "peer": 6.0, "contribution": 0.7}],
        **overrides,
    }


def raised(organization: Organization, dedup_key: str = "unit:1", **overrides: Any) -> tuple[Anomaly, bool]:
    arguments: dict[str, Any] = {
        "organization_id": organization.pk,
        "detector": "unit-value",
        "dedup_key": dedup_key,
        "score": 0.9,
        "severity": Severity.HIGH,
        "title": "Низька митна вартість",
        "explanation": explanation(),
        "entity_ids": [],
        "records": [{"kind": "customs_declaration", "id": 7}],
        **overrides,
    }
    return anomaly_raise(**arguments)


def test_raising_is_idempotent_on_the_key_within_an_organisation(
    organization: Organization, other_organization: Organization
) -> None:
    entity = Entity.objects.create(organization=organization, kind=EntityKind.COMPANY, name="ТОВ «Зоря»")
    first, created = raised(organization, entity_ids=[entity.pk, entity.pk])
    assert created
    assert list(first.entities.all()) == [entity]
    assert list(entity.anomalies.all()) == [first]
    assert (first.status, first.records) == (AnomalyStatus.NEW, [{"kind": "customs_declaration", "id": 7}])

    again, created = raised(organization, score=0.1, title="Інша назва")
    assert (again, created) == (first, False)
    again.refresh_from_db()
    assert (again.score, again.title) == (0.9, "Низька митна вартість")  # the first one stands

    elsewhere, created = raised(other_organization)
    assert created
    assert elsewhere != first
    assert Anomaly.objects.count() == 2


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"uk": ""}, id="no-ukrainian"),
        pytest.param({"en": None}, id="no-english"),
        pytest.param({"factors": []}, id="no-factors"),
        pytest.param({"factors": [{"feature": "x"}]}, id="incomplete-factor"),
    ],
)
def test_an_anomaly_without_its_explanation_is_refused(organization: Organization, broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="explanation"):
        raised(organization, explanation=explanation(**broken))
    assert not Anomaly.objects.exists()


def test_the_score_stays_between_zero_and_one(organization: Organization) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        raised(organization, score=1.5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Anomaly.objects.create(
            organization=organization,
            detector="x",
            dedup_key="x",
            score=-0.1,
            severity=Severity.LOW,
            title="x",
            explanation=explanation(),
        )


def test_a_status_change_is_stamped_audited_and_a_dismissal_needs_its_reason(
    organization: Organization, investigator: User
) -> None:
    anomaly, _ = raised(organization)
    with pytest.raises(DomainError, match="dismissed"):
        anomaly_status_set(anomaly=anomaly, user=investigator, status=AnomalyStatus.DISMISSED, reason="  ")
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.NEW

    anomaly_status_set(anomaly=anomaly, user=investigator, status=AnomalyStatus.DISMISSED, reason="Сезонна знижка")

    anomaly.refresh_from_db()
    assert (anomaly.status, anomaly.status_reason, anomaly.status_changed_by) == (
        AnomalyStatus.DISMISSED,
        "Сезонна знижка",
        investigator,
    )
    assert anomaly.status_changed_at is not None
    logged = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Anomaly),
        object_pk=str(anomaly.pk),
        action=LogEntry.Action.UPDATE,
    ).get()
    assert logged.changes_dict["status"] == ["new", "dismissed"]
    assert logged.changes_dict["status_reason"] == ["", "Сезонна знижка"]


def test_the_admin_lists_the_organisations_anomalies_with_masked_titles(
    client: Client, organization: Organization, other_organization: Organization, org_admin: User
) -> None:
    token = pii_token(PERSON, PIIKind.PERSON_NAME)
    own, _ = raised(organization, title=f"{token} on the watchlist “РНБО”")
    foreign, _ = raised(other_organization, title="Чужа аномалія")
    client.force_login(org_admin)

    listing = client.get(reverse("admin:anomalies_anomaly_changelist")).content.decode()

    assert reverse("admin:anomalies_anomaly_change", args=[own.pk]) in listing
    assert token in listing
    assert PERSON not in listing
    assert reverse("admin:anomalies_anomaly_change", args=[foreign.pk]) not in listing
    assert client.get(reverse("admin:anomalies_anomaly_change", args=[foreign.pk])).status_code == 302


def test_an_administrator_sets_a_status_in_the_admin_through_the_service(
    client: Client, organization: Organization
) -> None:
    superuser = UserFactory(is_superuser=True, is_staff=True)
    anomaly, _ = raised(organization)
    client.force_login(superuser)
    url = reverse("admin:anomalies_anomaly_change", args=[anomaly.pk])

    refused = client.post(url, {"status": AnomalyStatus.DISMISSED, "status_reason": ""})
    assert refused.status_code == 200
    assert "Say why the anomaly is dismissed." in refused.content.decode()
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.NEW

    assert client.post(url, {"status": AnomalyStatus.CONFIRMED, "status_reason": ""}).status_code == 302
    anomaly.refresh_from_db()
    assert (anomaly.status, anomaly.status_changed_by) == (AnomalyStatus.CONFIRMED, superuser)
