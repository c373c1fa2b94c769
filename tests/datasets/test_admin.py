"""Django admin for datasets: the organisation's own rows only, read-only where the pipeline writes, no PII in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization, User
from apps.datasets.models import RECORD_MODELS, ColumnMapping, Dataset, DatasetStatus, RegistryPerson
from apps.privacy.masking import PIIKind, pii_token
from tests.datasets.test_views import KOVAL, KOVAL_CODE, SHEVCHENKO, SHEVCHENKO_CODE, loaded_dataset, queued_dataset
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def admin_client(org_admin: User) -> Client:
    client = Client()
    assert client.login(username=org_admin.username, password=DEFAULT_PASSWORD)
    return client


@pytest.fixture
def dataset(organization: Organization, investigator: User) -> Dataset:
    return loaded_dataset(organization, investigator)


@pytest.fixture
def foreign_dataset(other_organization: Organization, outsider: User) -> Dataset:
    return loaded_dataset(other_organization, outsider)


def changelist(model_name: str) -> str:
    return reverse(f"admin:datasets_{model_name}_changelist")


def test_investigators_do_not_reach_the_admin(client: Client, investigator: User, dataset: Dataset) -> None:
    client.force_login(investigator)
    assert client.get(changelist("dataset")).status_code == 302


def test_dataset_list_and_pages_are_scoped_to_the_organisation(
    admin_client: Client, dataset: Dataset, foreign_dataset: Dataset
) -> None:
    foreign_dataset.name = "Чужий реєстр"
    foreign_dataset.save()
    listing = admin_client.get(changelist("dataset")).content.decode()
    assert reverse("admin:datasets_dataset_change", args=[dataset.pk]) in listing
    assert reverse("admin:datasets_dataset_change", args=[foreign_dataset.pk]) not in listing
    assert "Чужий реєстр" not in listing
    assert admin_client.get(reverse("admin:datasets_dataset_change", args=[foreign_dataset.pk])).status_code == 302
    for model in ("datasetrun", "quarantinedrow", "registryperson"):
        page = admin_client.get(changelist(model)).content.decode()
        assert "Чужий реєстр" not in page, model


def test_dataset_page_shows_runs_and_quarantined_rows_read_only(admin_client: Client, dataset: Dataset) -> None:
    response = admin_client.get(reverse("admin:datasets_dataset_change", args=[dataset.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    quarantined = dataset.quarantined_rows.get()
    assert quarantined.reason in page
    assert 'name="quarantined_rows-0-reason"' not in page, "quarantined rows are not editable"
    assert 'name="runs-0-status"' not in page
    assert 'name="name"' in page, "the name is the one thing an administrator may change"
    assert 'name="status"' not in page
    assert reverse("admin:datasets_quarantinedrow_changelist") + f"?dataset__id__exact={dataset.pk}" in page
    for clear in (SHEVCHENKO, KOVAL, SHEVCHENKO_CODE, KOVAL_CODE, "Бондар"):
        assert clear not in page, clear


def test_datasets_are_neither_added_nor_deleted_in_the_admin(admin_client: Client, dataset: Dataset) -> None:
    assert admin_client.get(reverse("admin:datasets_dataset_add")).status_code == 403
    assert admin_client.get(reverse("admin:datasets_dataset_delete", args=[dataset.pk])).status_code == 403
    record = RegistryPerson.objects.filter(dataset=dataset).first()
    assert record is not None
    assert admin_client.get(reverse("admin:datasets_registryperson_delete", args=[record.pk])).status_code == 403
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_admin_renames_a_dataset(admin_client: Client, dataset: Dataset) -> None:
    url = reverse("admin:datasets_dataset_change", args=[dataset.pk])
    response = admin_client.post(
        url,
        {
            "name": "Реєстр осіб, березень",
            "runs-TOTAL_FORMS": "0",
            "runs-INITIAL_FORMS": "0",
            "quarantined_rows-TOTAL_FORMS": "0",
            "quarantined_rows-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dataset.refresh_from_db()
    assert dataset.name == "Реєстр осіб, березень"
    assert dataset.status == DatasetStatus.READY


def test_record_lists_show_tokens_never_personal_data(admin_client: Client, dataset: Dataset) -> None:
    response = admin_client.get(changelist("registryperson"))
    assert response.status_code == 200
    page = response.content.decode()
    assert pii_token(SHEVCHENKO, PIIKind.PERSON_NAME) in page
    assert pii_token(KOVAL_CODE, PIIKind.TAX_NUMBER) in page
    for clear in (SHEVCHENKO, KOVAL, SHEVCHENKO_CODE, KOVAL_CODE, "1980-03-09", "Хрещатик"):
        assert clear not in page, clear

    token = pii_token(SHEVCHENKO, PIIKind.PERSON_NAME)
    found = admin_client.get(changelist("registryperson"), {"q": token}).content.decode()
    assert token in found
    assert pii_token(KOVAL, PIIKind.PERSON_NAME) not in found
    assert (
        pii_token(KOVAL, PIIKind.PERSON_NAME)
        not in admin_client.get(changelist("registryperson"), {"q": KOVAL}).content.decode()
    ), "a clear name finds nothing: the table holds only tokens"

    record = RegistryPerson.objects.get(dataset=dataset, full_name=token)
    detail = admin_client.get(reverse("admin:datasets_registryperson_change", args=[record.pk])).content.decode()
    assert token in detail
    assert SHEVCHENKO not in detail


def test_record_dataset_filter_lists_only_own_datasets_of_the_kind(
    admin_client: Client, dataset: Dataset, foreign_dataset: Dataset, organization: Organization
) -> None:
    declarations = queued_dataset(organization, name="Декларації січня")
    foreign_dataset.name = "Чужий реєстр"
    foreign_dataset.save()
    page = admin_client.get(changelist("registryperson")).content.decode()
    assert f"dataset__id__exact={dataset.pk}" in page
    assert f"dataset__id__exact={foreign_dataset.pk}" not in page
    assert "Декларації січня" not in page
    filtered = admin_client.get(changelist("registryperson"), {"dataset__id__exact": dataset.pk})
    assert filtered.status_code == 200
    assert declarations.pk != dataset.pk


def test_every_record_table_opens(admin_client: Client, dataset: Dataset) -> None:
    for model in RECORD_MODELS.values():
        response = admin_client.get(changelist(model._meta.model_name or ""))
        assert response.status_code == 200, model


def test_retry_action_queues_failed_datasets_only(
    admin_client: Client, organization: Organization, org_admin: User, dataset: Dataset
) -> None:
    failed = queued_dataset(organization, status=DatasetStatus.FAILED, error="Файл зник.")
    response = admin_client.post(
        changelist("dataset"),
        {"action": "retry_failed", "_selected_action": [failed.pk, dataset.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 dataset queued again." in response.content.decode()
    failed.refresh_from_db()
    dataset.refresh_from_db()
    assert (failed.status, failed.error) == (DatasetStatus.QUEUED, "")
    assert dataset.status == DatasetStatus.READY


def test_column_mappings_are_scoped(
    admin_client: Client, organization: Organization, other_organization: Organization
) -> None:
    ColumnMapping.objects.create(
        organization=organization, name="Наш формат", kind="registry_person", headers=[], columns={}
    )
    ColumnMapping.objects.create(
        organization=other_organization, name="Чужий формат", kind="registry_person", headers=[], columns={}
    )
    page = admin_client.get(changelist("columnmapping")).content.decode()
    assert "Наш формат" in page
    assert "Чужий формат" not in page
