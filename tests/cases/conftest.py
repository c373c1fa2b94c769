"""A case worked by a lead investigator, beside an investigator of the same organisation who is not on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.anomalies.models import Anomaly, Severity
from apps.anomalies.services import anomaly_raise
from apps.cases import services
from apps.cases.models import Case, CasePriority
from apps.entities.models import Entity, EntityKind
from apps.privacy.masking import PIIKind, pii_token
from tests.factories import member


@pytest.fixture(autouse=True)
def media_root(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def bystander(organization: Organization) -> User:
    """An investigator of the organisation who is not on the case."""
    return member(Role.INVESTIGATOR, organization, username="bystander")


def anomaly_for(organization: Organization, key: str, *, title: str = "Заниження митної вартості") -> Anomaly:
    anomaly, _created = anomaly_raise(
        organization_id=organization.pk,
        detector="unit_value",
        dedup_key=key,
        score=0.9,
        severity=Severity.HIGH,
        title=title,
        explanation={
            "en": "Unit value far below peers.",
            "uk": "Ціна за одиницю значно нижча за аналоги.",
            "factors": [{"feature": "unit_value", "value": 1.0, "peer": 9.0, "contribution": 0.8}],
        },
        entity_ids=[],
        records=[],
    )
    return anomaly


def entity_for(organization: Organization, name: str = "ТОВ «Агро-Трейд»", **kwargs: Any) -> Entity:
    return Entity.objects.create(
        organization=organization, kind=kwargs.pop("kind", EntityKind.COMPANY), name=name, **kwargs
    )


PERSON_NAME = "Шевченко Тарас Григорович"


@pytest.fixture
def anomaly(organization: Organization) -> Anomaly:
    return anomaly_for(organization, "a-1")


@pytest.fixture
def person(organization: Organization) -> Entity:
    """A person: named by the masking token of their name, as the resolver leaves it."""
    return entity_for(organization, pii_token(PERSON_NAME, PIIKind.PERSON_NAME), kind=EntityKind.PERSON, is_pii=True)


@pytest.fixture
def case(organization: Organization, supervisor: User, investigator: User, anomaly: Anomaly, person: Entity) -> Case:
    """Opened by the supervisor and led by ``investigator``, linked to an anomaly and a person."""
    return services.case_create(
        actor=supervisor,
        organization=organization,
        title="Схема заниження вартості",
        priority=CasePriority.HIGH,
        lead=investigator,
        anomalies=[anomaly],
        entities=[person],
    )
