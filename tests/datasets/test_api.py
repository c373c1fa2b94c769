"""The datasets API: the permission matrix, upload (new and duplicate), run history, retry, quarantine download.

Every request carries a real API key. Uploads run through the real pipeline, in process (``services.dataset_run``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.datasets.models import Dataset, DatasetStatus, RecordKind, RegistryPerson
from tests.api_testing import APIViewTestCases, api_key_client, grant
from tests.datasets.test_views import FORMULA, PEOPLE, persons_file, queued_dataset, run, streamed
from tests.factories import member


@pytest.fixture(autouse=True)
def media_root(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


class TestDatasetAPI(APIViewTestCases.GetObject, APIViewTestCases.ListObjects):
    model = Dataset
    url_basename = "api:dataset"
    # key lookup, last_used_at, user permissions, group permissions, count, page (creator and mapping joined)
    list_queries = 6

    def create_object(self, organization: Organization) -> Dataset:
        return queued_dataset(organization)


def upload(client: APIClient, **data: Any) -> Any:
    return client.post(reverse("api:dataset-list"), data, format="multipart")


@pytest.fixture
def investigator_api(investigator: User) -> APIClient:
    return api_key_client(investigator)


def test_upload_creates_a_dataset_that_loads_and_shows_its_runs(
    investigator_api: APIClient, investigator: User, organization: Organization
) -> None:
    response = upload(investigator_api, file=persons_file(), kind=RecordKind.REGISTRY_PERSON, name="Реєстр осіб")
    assert response.status_code == 201, response.content
    body = response.json()
    dataset = Dataset.objects.get(pk=body["id"])
    assert (dataset.organization, dataset.created_by, dataset.source) == (organization, investigator, "api")
    assert body["name"] == "Реєстр осіб"
    assert body["status"] == "queued"
    assert body["runs"] == []
    assert body["url"].endswith(reverse("api:dataset-detail", kwargs={"pk": dataset.pk}))

    run(dataset, investigator)
    detail = investigator_api.get(reverse("api:dataset-detail", kwargs={"pk": dataset.pk})).json()
    assert detail["status"] == "ready"
    assert (detail["rows_total"], detail["rows_loaded"], detail["rows_quarantined"]) == (3, 2, 1)
    assert detail["file_format"] == "csv"
    assert detail["validation_report"]["failures"] == [{"rule": "date", "field": "birth_date", "rows": 1}]
    assert detail["mapping_used"]["ПІБ"] == "full_name"
    assert [(run_["status"], run_["started_by"]) for run_ in detail["runs"]] == [("ready", "investigator")]
    assert detail["runs"][0]["stats"]["rows_loaded"] == 2


def test_upload_without_a_name_is_named_after_the_file(investigator_api: APIClient) -> None:
    response = upload(investigator_api, file=persons_file(name="осіб-2024.csv"), kind=RecordKind.REGISTRY_PERSON)
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "осіб-2024.csv"
    assert response.json()["original_filename"] == "осіб-2024.csv"


def test_the_same_content_again_answers_200_with_the_existing_dataset(
    investigator_api: APIClient, supervisor: User
) -> None:
    first = upload(investigator_api, file=persons_file(), kind=RecordKind.REGISTRY_PERSON)
    assert first.status_code == 201
    again = upload(api_key_client(supervisor), file=persons_file(name="інша-назва.csv"), kind="registry_person")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Dataset.objects.count() == 1


def test_upload_validation_errors_are_400(investigator_api: APIClient) -> None:
    response = upload(investigator_api, file=persons_file(), kind="horoscope")
    assert response.status_code == 400
    assert "kind" in response.json()
    response = upload(investigator_api, kind=RecordKind.REGISTRY_PERSON)
    assert response.status_code == 400
    assert "file" in response.json()
    response = investigator_api.post(reverse("api:dataset-list"), {"kind": "registry_person"}, format="json")
    assert response.status_code == 415
    assert not Dataset.objects.exists()


def test_upload_needs_add_permission(organization: Organization, partner: User) -> None:
    assert upload(api_key_client(partner), file=persons_file(), kind="registry_person").status_code == 403
    viewer = member(Role.PARTNER, organization)
    grant(viewer, Dataset, "view")
    response = upload(api_key_client(viewer), file=persons_file(), kind="registry_person")
    assert response.status_code == 403
    assert "add datasets" in response.json()["detail"]
    assert not Dataset.objects.exists()


def test_partner_role_has_no_dataset_access(partner: User, organization: Organization) -> None:
    dataset = queued_dataset(organization)
    client = api_key_client(partner)
    assert client.get(reverse("api:dataset-list")).status_code == 403
    assert client.get(reverse("api:dataset-detail", kwargs={"pk": dataset.pk})).status_code == 403


def test_list_filters_by_kind_and_status(investigator_api: APIClient, organization: Organization) -> None:
    declarations = queued_dataset(organization)
    invoices = queued_dataset(organization, kind=RecordKind.TAX_INVOICE, status=DatasetStatus.READY)
    url = reverse("api:dataset-list")

    def ids(query: dict[str, str]) -> set[int]:
        response = investigator_api.get(url, query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids({}) == {declarations.pk, invoices.pk}
    assert ids({"kind": "tax_invoice"}) == {invoices.pk}
    assert ids({"status": "queued"}) == {declarations.pk}
    assert ids({"kind": "tax_invoice", "status": "queued"}) == set()
    response = investigator_api.get(url, {"kind": "horoscope"})
    assert response.status_code == 400
    assert "kind" in response.json()


def test_list_leaves_out_run_history_and_detail_includes_it(
    investigator_api: APIClient, organization: Organization
) -> None:
    dataset = queued_dataset(organization)
    listed = investigator_api.get(reverse("api:dataset-list")).json()["results"][0]
    assert "runs" not in listed
    assert "runs" in investigator_api.get(reverse("api:dataset-detail", kwargs={"pk": dataset.pk})).json()


# --- retry -----------------------------------------------------------------------------------------------------


def failed_upload(client: APIClient, user: User) -> tuple[Dataset, bytes]:
    """An upload whose stored file the worker could not read (storage trouble); the file comes back later."""
    response = upload(client, file=persons_file(), kind=RecordKind.REGISTRY_PERSON)
    dataset = Dataset.objects.get(pk=response.json()["id"])
    content = default_storage.open(dataset.file.name).read()
    default_storage.delete(dataset.file.name)
    dataset = run(dataset, user)
    assert dataset.status == DatasetStatus.FAILED
    return dataset, content


def test_retry_queues_a_failed_dataset_and_the_next_run_loads_it(
    investigator_api: APIClient, investigator: User
) -> None:
    dataset, content = failed_upload(investigator_api, investigator)
    url = reverse("api:dataset-retry", kwargs={"pk": dataset.pk})
    with default_storage.open(dataset.file.name, "wb") as stored:
        stored.write(content)

    response = investigator_api.post(url)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["error"] == ""

    run(dataset, investigator)
    detail = investigator_api.get(reverse("api:dataset-detail", kwargs={"pk": dataset.pk})).json()
    assert detail["status"] == "ready"
    assert [run_["status"] for run_ in detail["runs"]] == ["ready", "failed"]
    assert RegistryPerson.objects.filter(dataset=dataset).count() == 2

    response = investigator_api.post(url)
    assert response.status_code == 400
    assert "already loaded" in response.json()["detail"]


def test_retry_needs_change_permission(
    investigator_api: APIClient, investigator: User, organization: Organization
) -> None:
    dataset, _content = failed_upload(investigator_api, investigator)
    adder = member(Role.PARTNER, organization)
    grant(adder, Dataset, "view")
    grant(adder, Dataset, "add")
    response = api_key_client(adder).post(reverse("api:dataset-retry", kwargs={"pk": dataset.pk}))
    assert response.status_code == 403
    assert "change datasets" in response.json()["detail"]
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.FAILED


def test_retry_of_another_organisations_dataset_is_not_found(
    investigator_api: APIClient, investigator: User, outsider: User
) -> None:
    dataset, _content = failed_upload(investigator_api, investigator)
    response = api_key_client(outsider).post(reverse("api:dataset-retry", kwargs={"pk": dataset.pk}))
    assert response.status_code == 404
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.FAILED


# --- quarantine ------------------------------------------------------------------------------------------------


def test_quarantine_download_is_escaped_csv_of_own_datasets_only(
    investigator_api: APIClient, investigator: User, outsider: User
) -> None:
    response = upload(investigator_api, file=persons_file(), kind=RecordKind.REGISTRY_PERSON)
    dataset = run(Dataset.objects.get(pk=response.json()["id"]), investigator)
    url = reverse("api:dataset-quarantine", kwargs={"pk": dataset.pk})

    response = investigator_api.get(url, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(streamed(response).decode("utf-8-sig"))))
    assert len(rows) == 2
    raw = rows[1][-1]
    assert raw.startswith("'" + FORMULA), raw
    assert PEOPLE[2][2] not in raw, "the quarantined person's name is masked"

    assert api_key_client(outsider).get(url).status_code == 404
    not_found = api_key_client(outsider).get(url, HTTP_ACCEPT="text/csv")
    assert not_found.status_code == 404
    assert not_found.content.decode().startswith("detail\r\n")
    assert APIClient().get(url).status_code == 401
    assert streamed(investigator_api.get(url)) == streamed(investigator_api.get(url, HTTP_ACCEPT="text/csv"))
