"""The audited unlock on real PostgreSQL and Redis: who may unlock, the reason, the record and its audit entry,
what the page shows and to whom, expiry, immutability through admin and API, the admin export and the purge."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.choices import Role
from apps.accounts.models import Organization, Tier, User
from apps.accounts.tiers import Surface, TierRefused, usage_for_day
from apps.entities.models import Entity, EntityIdentifier, EntityKind, EntityName, IdentifierScheme
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import DisclosureImmutable, PIIDisclosure, PIIVaultEntry
from apps.privacy.selectors import pii_unlocked
from apps.privacy.services import PIIUnlockRefused, pii_disclosure_purge, pii_unlock
from apps.privacy.tasks import purge_disclosures
from apps.privacy.vault import encrypt
from tests.api_testing import api_key_client
from tests.factories import member

CANARY_NAME = "Канарейко Олена Петрівна"
CANARY_TAX = "2831270751"
REASON = "Перевірка керівника у справі 17"


def vault(organization: Organization, clear: str, kind: PIIKind) -> str:
    token = pii_token(clear, kind)
    PIIVaultEntry.objects.create(organization=organization, token=token, kind=kind, ciphertext=encrypt(token, clear))
    return token


@pytest.fixture
def person(organization: Organization) -> Entity:
    name = vault(organization, CANARY_NAME, PIIKind.PERSON_NAME)
    tax = vault(organization, CANARY_TAX, PIIKind.TAX_NUMBER)
    entity = Entity.objects.create(organization=organization, kind=EntityKind.PERSON, name=name, is_pii=True)
    EntityName.objects.create(organization=organization, entity=entity, name=name, mention_count=1)
    EntityIdentifier.objects.create(
        organization=organization, entity=entity, scheme=IdentifierScheme.RNOKPP, value=tax, is_valid=True
    )
    return entity


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def unlock_url(entity: Entity) -> str:
    return reverse("privacy:unlock", args=["entities.entity", entity.pk])


def page(client: Client, entity: Entity) -> str:
    response = client.get(reverse("entities:detail", args=[entity.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_an_unlock_shows_the_clear_values_to_that_user_records_it_and_audits_it(
    person: Entity, supervisor: User, organization: Organization
) -> None:
    client = login(supervisor)
    assert CANARY_NAME not in page(client, person)
    assert "Unlock personal data" in page(client, person)

    response = client.post(unlock_url(person), {"reason": REASON, "next": f"/entities/{person.pk}/"})

    assert response.status_code == 302
    assert response["Location"] == f"/entities/{person.pk}/"
    disclosure = PIIDisclosure.objects.get()
    assert (disclosure.user, disclosure.username, disclosure.reason) == (supervisor, "supervisor", REASON)
    assert (disclosure.target, disclosure.object_label) == (person, f"Entity №{person.pk}")
    assert {"name", "names", "identifiers"} <= set(disclosure.fields)
    assert person.name in disclosure.tokens
    assert timedelta(minutes=14) < disclosure.expires_at - disclosure.created_at <= timedelta(minutes=15)
    assert LogEntry.objects.get_for_object(disclosure).get().action == LogEntry.Action.CREATE
    assert CANARY_NAME not in str(LogEntry.objects.get_for_object(disclosure).get().changes)
    assert usage_for_day(organization=organization).by_surface[Surface.PII_UNLOCK] == 1

    shown = page(client, person)
    assert CANARY_NAME in shown
    assert CANARY_TAX in shown
    assert "Mask again now" in shown
    # Another supervisor of the same organisation did not unlock it.
    assert CANARY_NAME not in page(login(member(Role.SUPERVISOR, organization)), person)


def test_without_the_permission_the_unlock_is_refused_and_the_page_says_how_to_get_it(
    person: Entity, investigator: User
) -> None:
    client = login(investigator)
    assert "Unlocking it needs the permission to view personal data" in page(client, person)
    response = client.post(unlock_url(person), {"reason": REASON})
    assert response.status_code == 403
    assert not PIIDisclosure.objects.exists()
    with pytest.raises(PIIUnlockRefused):
        pii_unlock(user=investigator, target=person, reason=REASON)


def test_a_tier_without_personal_data_refuses_and_offers_the_plans(
    person: Entity, supervisor: User, organization: Organization
) -> None:
    organization.tier = Tier.objects.get(slug="free")
    organization.save()
    client = login(supervisor)
    assert reverse("accounts:upgrade") in page(client, person)
    assert client.post(unlock_url(person), {"reason": REASON}).status_code == 403
    with pytest.raises(TierRefused):
        pii_unlock(user=supervisor, target=person, reason=REASON)
    assert not PIIDisclosure.objects.exists()


def test_a_reason_is_required(person: Entity, supervisor: User) -> None:
    response = login(supervisor).post(unlock_url(person), {"reason": "бо"})
    assert response.status_code == 400
    assert not PIIDisclosure.objects.exists()


def test_another_organisations_object_cannot_be_unlocked(person: Entity, outsider: User) -> None:
    assert login(outsider).post(unlock_url(person), {"reason": REASON}).status_code == 404
    with pytest.raises(PIIUnlockRefused):
        pii_unlock(user=outsider, target=person, reason=REASON)


def test_the_unlock_expires_and_the_values_are_masked_again(
    person: Entity, supervisor: User, settings: SettingsWrapper
) -> None:
    settings.PII_UNLOCK_DURATION = timedelta(milliseconds=700)
    client = login(supervisor)
    client.post(unlock_url(person), {"reason": REASON})
    assert pii_unlocked(user=supervisor, target=person)
    assert CANARY_NAME in page(client, person)
    time.sleep(0.8)
    assert not pii_unlocked(user=supervisor, target=person)
    assert CANARY_NAME not in page(client, person)
    assert PIIDisclosure.objects.count() == 1


def test_masking_again_before_the_time_ends_the_unlock_but_keeps_the_record(person: Entity, supervisor: User) -> None:
    client = login(supervisor)
    client.post(unlock_url(person), {"reason": REASON})
    client.post(reverse("privacy:lock", args=["entities.entity", person.pk]), {"next": f"/entities/{person.pk}/"})
    assert CANARY_NAME not in page(client, person)
    assert PIIDisclosure.objects.count() == 1


def test_the_api_unlocks_and_reveals_only_to_the_unlocking_caller(
    person: Entity, supervisor: User, organization: Organization
) -> None:
    client = api_key_client(supervisor)
    detail = reverse("api:entity-detail", args=[person.pk])
    assert client.get(detail).json()["unlocked"] is None
    created = client.post(
        reverse("api:pii-disclosure-list"),
        {"target_type": "entities.entity", "object_id": str(person.pk), "reason": REASON},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert CANARY_NAME in created.json()["unlocked"].values()
    assert client.get(detail).json()["unlocked"][person.name] == CANARY_NAME
    other = api_key_client(member(Role.SUPERVISOR, organization))
    assert other.get(detail).json()["unlocked"] is None
    assert CANARY_NAME not in other.get(reverse("api:pii-disclosure-list")).content.decode()


def test_a_disclosure_cannot_be_changed_or_deleted_through_the_api(person: Entity, org_admin: User) -> None:
    disclosure = pii_unlock(user=org_admin, target=person, reason=REASON)
    client = api_key_client(org_admin)
    url = reverse("api:pii-disclosure-detail", args=[disclosure.pk])
    assert client.get(url).status_code == 200
    assert client.put(url, {"reason": "інша"}, format="json").status_code == 405
    assert client.patch(url, {"reason": "інша"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    disclosure.refresh_from_db()
    assert disclosure.reason == REASON


def test_a_disclosure_cannot_be_added_changed_or_deleted_through_admin(person: Entity, org_admin: User) -> None:
    disclosure = pii_unlock(user=org_admin, target=person, reason=REASON)
    client = login(org_admin)
    change = reverse("admin:privacy_piidisclosure_change", args=[disclosure.pk])
    assert client.get(change).status_code == 200
    assert 'name="reason"' not in client.get(change).content.decode()
    assert client.post(change, {"reason": "інша"}).status_code == 403
    assert client.get(reverse("admin:privacy_piidisclosure_add")).status_code == 403
    assert (
        client.post(reverse("admin:privacy_piidisclosure_delete", args=[disclosure.pk]), {"post": "yes"}).status_code
        == 403
    )
    changelist = client.post(
        reverse("admin:privacy_piidisclosure_changelist"),
        {"action": "delete_selected", "_selected_action": [disclosure.pk]},
    )
    assert changelist.status_code in {200, 302}
    disclosure.refresh_from_db()
    assert disclosure.reason == REASON
    with pytest.raises(DisclosureImmutable):
        disclosure.save()
    with pytest.raises(DisclosureImmutable):
        disclosure.delete()


def test_administrators_review_disclosures_masked_and_export_them(
    person: Entity, supervisor: User, org_admin: User, outsider: User
) -> None:
    pii_unlock(user=supervisor, target=person, reason='=HYPERLINK("http://x") перевірка справи')
    client = login(org_admin)
    changelist = client.get(reverse("admin:privacy_piidisclosure_changelist"))
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert "supervisor" in body
    assert f"Entity №{person.pk}" in body
    assert CANARY_NAME not in body
    filtered = client.get(
        reverse("admin:privacy_piidisclosure_changelist"),
        {"content_type__id__exact": ContentType.objects.get_for_model(Entity).pk},
    )
    assert "supervisor" in filtered.content.decode()

    exported = client.post(
        reverse("admin:privacy_piidisclosure_changelist"),
        {"action": "export_csv", "_selected_action": list(PIIDisclosure.objects.values_list("pk", flat=True))},
    )
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][2] == "supervisor"
    assert rows[1][9].startswith("'=HYPERLINK")
    assert CANARY_NAME not in exported.content.decode()
    # Another organisation's administrator sees none of it.
    assert "supervisor" not in login(outsider).get(reverse("admin:privacy_piidisclosure_changelist")).content.decode()


def test_the_purge_removes_only_disclosures_past_their_retention(
    person: Entity, supervisor: User, settings: SettingsWrapper
) -> None:
    old = pii_unlock(user=supervisor, target=person, reason=REASON)
    PIIDisclosure.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=731))
    recent = pii_unlock(user=supervisor, target=person, reason=REASON)
    assert purge_disclosures() == 1
    assert list(PIIDisclosure.objects.values_list("pk", flat=True)) == [recent.pk]
    settings.PII_DISCLOSURE_RETENTION_DAYS = 0
    assert pii_disclosure_purge() == 1


def test_a_case_level_grant_through_guardian_is_honoured_when_the_model_declares_view_pii(
    person: Entity, investigator: User, monkeypatch: Any
) -> None:
    from apps.privacy import selectors

    # Entities do not declare view_pii; a model that does (a case) is checked per object through guardian.
    monkeypatch.setattr(selectors, "_object_permission", lambda target: "entities.view_pii")
    monkeypatch.setattr(User, "has_perm", lambda self, perm, obj=None: obj is not None and perm == "entities.view_pii")
    assert selectors.pii_permission_held(user=investigator, target=person)
