"""The dataset pages: list, upload, dataset page, live progress, mapping, retry and the quarantine download.

Uploads go through the real pipeline: the page stores the file and queues it; the test then runs the service the
Celery task would run (``services.dataset_run``), in process, against the real PostgreSQL and Redis.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.datasets import services
from apps.datasets.exports import escape_formula
from apps.datasets.models import (
    ColumnMapping,
    Dataset,
    DatasetSource,
    DatasetStage,
    DatasetStatus,
    RecordKind,
    RegistryPerson,
)
from apps.datasets.synthetic.codes import rnokpp_for
from apps.privacy.masking import PIIKind, pii_token
from nexus.celery import app as celery_app
from tests.browser import conftest as browser_conftest
from tests.core.test_pages import Element, nav_links, page, parse, unlabelled_fields
from tests.factories import DEFAULT_PASSWORD, member

pytestmark = pytest.mark.django_db

PERSON_HEADER = ["Номер запису", "Джерело", "ПІБ", "Дата народження", "РНОКПП", "Адреса", "Ролі"]
FORMULA = "=cmd|' /C calc'!A0"
SHEVCHENKO = "Шевченко Тарас Григорович"
KOVAL = "Коваль Олена Петрівна"
SHEVCHENKO_CODE = rnokpp_for(birth_date=datetime.date(1980, 3, 9), serial=123, male=True)
KOVAL_CODE = rnokpp_for(birth_date=datetime.date(1985, 5, 12), serial=432, male=False)
# Two good people, and a row with a date of birth that is no date: quarantined, with a formula in its first cell.
PEOPLE = [
    ["1", "ЄДР", SHEVCHENKO, "09.03.1980", SHEVCHENKO_CODE, "м. Київ, вул. Хрещатик, 1", "директор"],
    ["2", "ЄДР", KOVAL, "1985-05-12", KOVAL_CODE, "м. Львів, пл. Ринок, 2", "засновник"],
    [FORMULA, "ЄДР", "Бондар Іван", "колись давно", "", "", ""],
]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def persons_file(rows: list[list[str]] | None = None, name: str = "persons.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(PERSON_HEADER, PEOPLE if rows is None else rows), "text/csv")


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, file: SimpleUploadedFile, kind: str = RecordKind.REGISTRY_PERSON, **headers: str) -> Any:
    return client.post(reverse("datasets:upload"), {"file": file, "kind": kind, "name": ""}, **headers)


def run(dataset: Dataset, user: User | None = None) -> Dataset:
    """What the Celery task does, here and now."""
    return services.dataset_run(dataset_id=dataset.pk, user=user)


def streamed(response: StreamingHttpResponse) -> bytes:
    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])  # type: ignore[union-attr]

    return async_to_sync(collect)()


def only_dataset(organization: Organization) -> Dataset:
    datasets = list(Dataset.objects.filter(organization=organization))
    assert len(datasets) == 1, datasets
    return datasets[0]


def loaded_dataset(organization: Organization, user: User, rows: list[list[str]] | None = None) -> Dataset:
    created = services.dataset_create(
        organization=organization,
        user=user,
        file=persons_file(rows),
        name="Реєстр осіб",
        kind=RecordKind.REGISTRY_PERSON,
        source=DatasetSource.UPLOAD,
    )
    dataset = run(created.dataset, user)
    assert dataset.status == DatasetStatus.READY, dataset.error
    return dataset


def queued_dataset(organization: Organization, user: User | None = None, **values: Any) -> Dataset:
    """A dataset row as an upload leaves it, without a stored file (for list, filter and permission tests)."""
    number = Dataset.objects.count() + 1
    fields: dict[str, Any] = {
        "name": f"Набір {number}",
        "kind": RecordKind.CUSTOMS_DECLARATION,
        "source": DatasetSource.UPLOAD,
        "file": f"datasets/test/{number}.csv",
        "original_filename": f"{number}.csv",
        "size_bytes": 100,
        "sha256": f"{number:064d}",
        "status": DatasetStatus.QUEUED,
        "created_by": user,
        **values,
    }
    return Dataset.objects.create(organization=organization, **fields)


@pytest.fixture(autouse=True)
def media_root(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def dataset(organization: Organization, investigator: User) -> Dataset:
    return loaded_dataset(organization, investigator)


def main_of(document: Element) -> Element:
    main = document.find("main")
    assert main is not None
    return main


# --- who may open what -----------------------------------------------------------------------------------------


def dataset_urls(dataset: Dataset) -> dict[str, str]:
    return {
        "detail": reverse("datasets:detail", args=[dataset.pk]),
        "progress": reverse("datasets:progress", args=[dataset.pk]),
        "mapping": reverse("datasets:mapping", args=[dataset.pk]),
        "quarantine": reverse("datasets:quarantine", args=[dataset.pk]),
    }


def test_anonymous_visitors_are_sent_to_login(dataset: Dataset) -> None:
    client = Client()
    urls = [reverse("datasets:list"), reverse("datasets:upload"), *dataset_urls(dataset).values()]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
    response = client.post(reverse("datasets:retry", args=[dataset.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role_user", ["investigator", "supervisor", "org_admin"])
def test_working_roles_see_the_list_and_may_upload(request: pytest.FixtureRequest, role_user: str) -> None:
    client = login(request.getfixturevalue(role_user))
    listing = page(client, reverse("datasets:list"))
    assert "Datasets" in nav_links(listing)
    upload_link = main_of(listing).find("a", lambda e: e.attrs.get("href") == reverse("datasets:upload"))
    assert upload_link is not None
    form = page(client, reverse("datasets:upload")).find("form", lambda e: "data-upload-form" in e.attrs)
    assert form is not None
    assert form.attrs["enctype"] == "multipart/form-data"


def test_partners_have_no_dataset_pages(partner: User, dataset: Dataset) -> None:
    client = login(partner)
    assert "Datasets" not in nav_links(page(client, "/"))
    for url in [reverse("datasets:list"), reverse("datasets:upload"), *dataset_urls(dataset).values()]:
        assert client.get(url).status_code == 403, url
    assert (
        client.post(reverse("datasets:upload"), {"file": persons_file(), "kind": "registry_person"}).status_code == 403
    )
    assert not Dataset.objects.filter(created_by=partner).exists()


def test_a_reader_without_change_permission_gets_no_retry_and_cannot_post_it(
    organization: Organization, investigator: User
) -> None:
    failed = queued_dataset(organization, investigator, status=DatasetStatus.FAILED, error="Файл порожній.")
    reader = member(Role.PARTNER, organization)
    reader.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    client = login(reader)
    document = page(client, reverse("datasets:detail", args=[failed.pk]))
    assert "Файл порожній." in main_of(document).text()
    assert document.find("form", lambda e: e.attrs.get("action") == reverse("datasets:retry", args=[failed.pk])) is None
    assert (
        page(client, reverse("datasets:list")).find("a", lambda e: e.attrs.get("href") == reverse("datasets:upload"))
        is None
    )
    assert client.post(reverse("datasets:retry", args=[failed.pk])).status_code == 403
    assert client.get(reverse("datasets:upload")).status_code == 403
    failed.refresh_from_db()
    assert failed.status == DatasetStatus.FAILED


def test_another_organisations_dataset_is_not_found_anywhere(outsider: User, dataset: Dataset) -> None:
    client = login(outsider)
    for name, url in dataset_urls(dataset).items():
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 404, name
    assert client.post(reverse("datasets:retry", args=[dataset.pk])).status_code == 404
    assert client.post(reverse("datasets:mapping", args=[dataset.pk]), {"column_0": "full_name"}).status_code == 404
    listing = page(client, reverse("datasets:list"))
    assert dataset.name not in listing.text()
    assert "has not loaded any data yet" in main_of(listing).text()


def test_the_same_file_in_another_organisation_is_its_own_dataset(outsider: User, dataset: Dataset) -> None:
    response = upload(login(outsider), persons_file())
    theirs = Dataset.objects.exclude(pk=dataset.pk).get()
    assert response["Location"] == reverse("datasets:detail", args=[theirs.pk])
    assert theirs.organization_id == outsider.organization_id
    assert theirs.sha256 == dataset.sha256


# --- list ------------------------------------------------------------------------------------------------------


def test_list_shows_status_kind_counts_and_uploader(organization: Organization, investigator: User) -> None:
    ready = loaded_dataset(organization, investigator)
    failed = queued_dataset(organization, investigator, status=DatasetStatus.FAILED, name="Зламаний файл")
    document = page(login(investigator), reverse("datasets:list"))
    table = main_of(document).find("table")
    assert table is not None
    rows = {row.find("th").text(): row for row in table.find_all("tr")[1:]}  # type: ignore[union-attr]
    cells = [cell.text() for cell in rows["Реєстр осіб"].find_all("td")]
    assert cells[:4] == ["Registry persons", "Ready", "2", "1"]
    assert cells[-1] == "investigator"
    badge = rows["Зламаний файл"].find("span", lambda e: "status" in e.attrs.get("class", ""))
    assert badge is not None
    assert badge.text() == "Failed"
    assert "status--failing" in badge.attrs["class"]
    link = rows["Реєстр осіб"].find("a")
    assert link is not None
    assert link.attrs["href"] == reverse("datasets:detail", args=[ready.pk])
    assert failed.pk != ready.pk


def test_list_filters_by_kind_and_status(organization: Organization, investigator: User) -> None:
    queued_dataset(organization, investigator, name="Декларації")
    queued_dataset(organization, investigator, name="Накладні", kind=RecordKind.TAX_INVOICE)
    queued_dataset(organization, investigator, name="Готові накладні", kind=RecordKind.TAX_INVOICE, status="ready")
    client = login(investigator)

    def names(query: dict[str, str]) -> set[str]:
        response = client.get(reverse("datasets:list"), query)
        assert response.status_code == 200
        table = main_of(parse(response.content)).find("table")
        return {a.text() for a in table.find_all("a")} if table is not None else set()

    assert {"Декларації", "Накладні", "Готові накладні"} <= names({})
    assert names({"kind": "tax_invoice"}) == {"Накладні", "Готові накладні"}
    assert names({"kind": "tax_invoice", "status": "ready"}) == {"Готові накладні"}
    assert names({"kind": "no-such-kind"}) == set()
    document = parse(client.get(reverse("datasets:list"), {"status": "failed"}).content)
    assert "No dataset matches these filters." in main_of(document).text()


def test_list_fragment_for_htmx_and_it_polls_only_while_something_loads(
    organization: Organization, investigator: User
) -> None:
    queued = queued_dataset(organization, investigator)
    client = login(investigator)
    response = client.get(reverse("datasets:list"), headers={"HX-Request": "true"})
    fragment = parse(response.content)
    assert fragment.find("html") is None
    table = fragment.find("div", lambda e: e.attrs.get("id") == "dataset-table")
    assert table is not None
    assert table.attrs["hx-trigger"] == "every 5s"

    Dataset.objects.filter(pk=queued.pk).update(status=DatasetStatus.READY)
    table = parse(client.get(reverse("datasets:list"), headers={"HX-Request": "true"}).content).find("div")
    assert table is not None
    assert "hx-trigger" not in table.attrs


def test_list_is_paginated_and_keeps_the_filters(organization: Organization, investigator: User) -> None:
    for _ in range(27):
        queued_dataset(organization, investigator, kind=RecordKind.TAX_INVOICE)
    queued_dataset(organization, investigator)
    client = login(investigator)
    first = page(client, reverse("datasets:list") + "?kind=tax_invoice")
    assert len(main_of(first).find_all("tr")) == 1 + 25
    pagination = first.find("nav", lambda e: e.attrs.get("class") == "pagination")
    assert pagination is not None
    assert "Page 1 of 2" in pagination.text()
    next_link = pagination.find("a", lambda e: e.attrs.get("rel") == "next")
    assert next_link is not None
    assert next_link.attrs["href"] == "?kind=tax_invoice&page=2"
    second = page(client, reverse("datasets:list") + next_link.attrs["href"])
    assert len(main_of(second).find_all("tr")) == 1 + 2


# --- upload ----------------------------------------------------------------------------------------------------


def test_upload_form_works_without_javascript_and_the_file_loads(
    organization: Organization, investigator: User
) -> None:
    client = login(investigator)
    response = upload(client, persons_file())
    dataset = only_dataset(organization)
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:detail", args=[dataset.pk])
    assert (dataset.name, dataset.kind, dataset.source) == ("persons.csv", "registry_person", "upload")
    assert dataset.created_by == investigator
    assert dataset.status == DatasetStatus.QUEUED

    queued_page = page(client, response["Location"])
    panel = queued_page.find("section", lambda e: e.attrs.get("id") == "dataset-progress")
    assert panel is not None, "a queued dataset shows its progress"
    assert panel.attrs["hx-get"] == reverse("datasets:progress", args=[dataset.pk])
    assert panel.attrs["hx-trigger"].startswith("every 2s")

    assert run(dataset, investigator).status == DatasetStatus.READY
    document = page(client, response["Location"])
    assert document.find("section", lambda e: e.attrs.get("id") == "dataset-progress") is None
    text = main_of(document).text()
    assert "Registry persons" in text
    assert "Web upload" in text
    assert "persons.csv" in text
    assert "CSV" in text
    assert "utf-8" in text.lower()
    assert "comma (,)" in text
    assert dataset.sha256 in text


def test_upload_by_htmx_answers_with_the_live_progress_panel(organization: Organization, investigator: User) -> None:
    client = login(investigator)
    response = upload(client, persons_file(), headers={"HX-Request": "true"})
    assert response.status_code == 200
    dataset = only_dataset(organization)
    fragment = parse(response.content)
    assert fragment.find("html") is None
    panel = fragment.find("section", lambda e: e.attrs.get("data-dataset-progress") == str(dataset.pk))
    assert panel is not None
    assert panel.attrs["hx-get"] == reverse("datasets:progress", args=[dataset.pk])
    assert panel.attrs["hx-swap"] == "outerHTML"
    bar = panel.find("progress")
    assert bar is not None
    assert bar.attrs["max"] == "100"
    assert "Loading" in panel.attrs["data-stage-labels"]
    assert fragment.find("a", lambda e: e.attrs.get("href") == reverse("datasets:detail", args=[dataset.pk]))


def test_upload_form_errors_come_back_in_the_form(organization: Organization, investigator: User) -> None:
    client = login(investigator)
    response = client.post(reverse("datasets:upload"), {"kind": "registry_person"})
    assert response.status_code == 200
    document = parse(response.content)
    file_input = document.find("input", lambda e: e.attrs.get("name") == "file")
    assert file_input is not None
    assert file_input.attrs.get("aria-invalid") == "true"
    assert unlabelled_fields(document) == []

    response = client.post(
        reverse("datasets:upload"), {"file": persons_file(), "kind": "horoscope"}, headers={"HX-Request": "true"}
    )
    fragment = parse(response.content)
    assert fragment.find("html") is None, "htmx gets the form back, not a page"
    kind = fragment.find("select", lambda e: e.attrs.get("name") == "kind")
    assert kind is not None
    assert kind.attrs.get("aria-invalid") == "true"
    assert not Dataset.objects.exists()


def test_a_duplicate_upload_leads_to_the_existing_dataset(
    organization: Organization, investigator: User, supervisor: User, dataset: Dataset
) -> None:
    client = login(supervisor)
    response = upload(client, persons_file(name="копія.csv"))
    assert response["Location"] == reverse("datasets:detail", args=[dataset.pk])
    assert Dataset.objects.count() == 1
    document = page(client, response["Location"])
    messages = document.find("div", lambda e: e.attrs.get("id") == "messages")
    assert messages is not None
    assert "already uploaded" in messages.text()
    assert "Реєстр осіб" in messages.text()

    response = upload(client, persons_file(name="ще-копія.csv"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("datasets:detail", args=[dataset.pk])
    assert Dataset.objects.count() == 1
    assert RegistryPerson.objects.filter(dataset=dataset).count() == 2, "nothing was loaded twice"


def test_every_form_field_on_the_dataset_pages_is_labelled(
    organization: Organization, investigator: User, dataset: Dataset
) -> None:
    needing = mapping_dataset(organization, investigator)
    client = login(investigator)
    for url in [
        reverse("datasets:list"),
        reverse("datasets:upload"),
        reverse("datasets:detail", args=[dataset.pk]),
        reverse("datasets:mapping", args=[needing.pk]),
    ]:
        document = page(client, url)
        assert unlabelled_fields(document) == [], url
    upload_page = page(client, reverse("datasets:upload"))
    labels = {label.attrs.get("for"): label.text() for label in upload_page.find_all("label")}
    assert labels["id_file"].startswith("File")
    assert labels["id_kind"].startswith("Record kind")
    assert labels["upload-progress"] == "Sending the file"
    dropzone = upload_page.find("div", lambda e: "data-dropzone" in e.attrs)
    assert dropzone is not None
    assert dropzone.find("input", lambda e: e.attrs.get("type") == "file") is not None


def test_a_platform_superuser_without_organisation_is_told_why_nothing_uploads(client: Client) -> None:
    root = User.objects.create_superuser(username="root", password="x", email="root@example.org")
    response = upload(login(root), persons_file())
    assert response.status_code == 200
    alert = parse(response.content).find(where=lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert "no organisation" in alert.text()
    assert not Dataset.objects.exists()


# --- progress --------------------------------------------------------------------------------------------------


def test_progress_fragment_polls_while_queued_and_sends_the_reader_on_when_done(
    organization: Organization, investigator: User
) -> None:
    client = login(investigator)
    upload(client, persons_file())
    dataset = only_dataset(organization)
    url = reverse("datasets:progress", args=[dataset.pk])

    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    panel = parse(response.content).find("section")
    assert panel is not None
    assert panel.attrs["hx-trigger"] == "every 2s, dataset-progress-refresh"
    assert "Queued" in panel.text()

    run(dataset, investigator)
    response = client.get(url, headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == reverse("datasets:detail", args=[dataset.pk])
    document = page(client, response["HX-Redirect"])
    messages = document.find("div", lambda e: e.attrs.get("id") == "messages")
    assert messages is not None
    assert "“persons.csv” is loaded: 2 rows, 1 set aside." in messages.text()

    # Opened as a page rather than by htmx, the address leads to the dataset.
    assert client.get(url)["Location"] == reverse("datasets:detail", args=[dataset.pk])


def test_progress_shows_the_running_figures_the_pipeline_publishes(
    organization: Organization, investigator: User
) -> None:
    from apps.datasets.ingest.progress import ProgressPublisher

    dataset = queued_dataset(organization, investigator, status=DatasetStatus.RUNNING, stage="parse")
    ProgressPublisher(dataset_id=dataset.pk, dataset_name=dataset.name, user_id=None).update(
        stage="parse", percent=42, rows_read=4200, rows_quarantined=7, force=True
    )
    response = login(investigator).get(reverse("datasets:progress", args=[dataset.pk]), headers={"HX-Request": "true"})
    panel = parse(response.content).find("section")
    assert panel is not None
    bar = panel.find("progress")
    assert bar is not None
    assert bar.attrs["value"] == "42"
    counts = {
        dd.attrs["data-progress-count"]: dd.text() for dd in panel.find_all("dd") if "data-progress-count" in dd.attrs
    }
    assert counts == {"rows_read": "4200", "rows_loaded": "0", "rows_quarantined": "7"}
    assert "Parsing and validating" in panel.text()


# --- the dataset page ------------------------------------------------------------------------------------------


def test_dataset_page_shows_report_mapping_runs_and_masked_preview(investigator: User, dataset: Dataset) -> None:
    document = page(login(investigator), reverse("datasets:detail", args=[dataset.pk]))
    main = main_of(document)
    text = main.text()
    assert document.find("h1").text() == "Реєстр осіб"  # type: ignore[union-attr]

    rows = main.find("section", lambda e: e.attrs.get("aria-labelledby") == "rows-heading")
    assert rows is not None
    assert [dd.text() for dd in rows.find_all("dd")] == ["3", "2", "1"]

    report = main.find("section", lambda e: e.attrs.get("aria-labelledby") == "report-heading")
    assert report is not None
    report_rows = [
        [cell.text() for cell in row.find_all(where=lambda e: e.tag in {"th", "td"})]
        for row in report.find_all("tr")[1:]
    ]
    assert report_rows == [["Not a date (dd.mm.yyyy, yyyy-mm-dd or dd/mm/yyyy)", "Date of birth", "1"]]

    mapping = main.find("section", lambda e: e.attrs.get("aria-labelledby") == "mapping-heading")
    assert mapping is not None
    mapped = {
        row.find("th").text(): row.find("td").text()  # type: ignore[union-attr]
        for row in mapping.find_all("tr")[1:]
    }
    assert list(mapped) == PERSON_HEADER, "the file's columns in file order"
    assert mapped["ПІБ"] == "Full name"
    assert mapped["РНОКПП"] == "Tax number"

    preview = main.find("section", lambda e: e.attrs.get("aria-labelledby") == "preview-heading")
    assert preview is not None
    preview_text = preview.text()
    assert pii_token(SHEVCHENKO, PIIKind.PERSON_NAME) in preview_text
    assert pii_token(KOVAL_CODE, PIIKind.TAX_NUMBER) in preview_text
    for clear in (SHEVCHENKO, KOVAL, SHEVCHENKO_CODE, KOVAL_CODE, "Хрещатик", "09.03.1980"):
        assert clear not in document.text(), clear

    runs = main.find("section", lambda e: e.attrs.get("aria-labelledby") == "runs-heading")
    assert runs is not None
    run_rows = runs.find_all("tr")[1:]
    assert len(run_rows) == 1
    assert "Ready" in run_rows[0].text()
    assert "investigator" in run_rows[0].text()

    quarantine_link = main.find("a", lambda e: e.attrs.get("href") == reverse("datasets:quarantine", args=[dataset.pk]))
    assert quarantine_link is not None
    assert "Loading failed" not in text


def test_preview_needs_the_record_permission_too(
    organization: Organization, investigator: User, dataset: Dataset
) -> None:
    reader = member(Role.PARTNER, organization)
    reader.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    document = page(login(reader), reverse("datasets:detail", args=[dataset.pk]))
    assert document.find("section", lambda e: e.attrs.get("aria-labelledby") == "preview-heading") is None
    assert "Реєстр осіб" in document.text()


# --- quarantine download ---------------------------------------------------------------------------------------


def test_quarantine_csv_escapes_formulas_and_is_masked(investigator: User, dataset: Dataset) -> None:
    response = login(investigator).get(reverse("datasets:quarantine", args=[dataset.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.streaming
    content = streamed(response)
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Rule", "Field", "Reason", "Row as read"]
    assert len(rows) == 2
    row_number, rule, field, reason, raw = rows[1]
    assert (row_number, rule, field) == ("4", "Not a date (dd.mm.yyyy, yyyy-mm-dd or dd/mm/yyyy)", "Date of birth")
    assert reason.lower().startswith("date of birth: not a date")
    stored_raw = dataset.quarantined_rows.get().raw
    assert stored_raw.startswith(FORMULA), "the quarantined row keeps the cell as it was read"
    assert raw == escape_formula(stored_raw)
    for cell in (cell for row in rows for cell in row):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "Бондар" not in content.decode()


def test_quarantine_csv_streams_every_row_in_order(organization: Organization, investigator: User) -> None:
    bad_rows = [[str(n), "ЄДР", f"Особа {n}", "не дата", "", "", ""] for n in range(1, 2501)]
    dataset = loaded_dataset(organization, investigator, rows=[PEOPLE[0], *bad_rows])
    assert dataset.rows_quarantined == 2500
    content = streamed(login(investigator).get(reverse("datasets:quarantine", args=[dataset.pk])))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))[1:]
    assert [int(row[0]) for row in rows] == list(range(3, 2503))


# --- mapping ---------------------------------------------------------------------------------------------------

UNKNOWN_HEADER = ["Прізвище та ініціали", "Адреса", "Примітка"]


def mapping_dataset(organization: Organization, user: User, rows: list[list[str]] | None = None) -> Dataset:
    content = csv_bytes(UNKNOWN_HEADER, rows or [[SHEVCHENKO, "м. Київ", "перевірити"], [KOVAL, "м. Львів", ""]])
    created = services.dataset_create(
        organization=organization,
        user=user,
        file=SimpleUploadedFile("mvs.csv", content, "text/csv"),
        name="Список МВС",
        kind=RecordKind.REGISTRY_PERSON,
        source=DatasetSource.UPLOAD,
    )
    dataset = run(created.dataset, user)
    assert dataset.status == DatasetStatus.NEEDS_MAPPING, dataset.error
    return dataset


def selects(document: Element) -> dict[str, Element]:
    return {select.attrs["name"]: select for select in document.find_all("select")}


def selected(select: Element) -> str:
    option = select.find("option", lambda e: "selected" in e.attrs)
    return option.attrs["value"] if option is not None else ""


def test_mapping_page_offers_the_kinds_fields_with_suggestions_and_required_marks(
    organization: Organization, investigator: User
) -> None:
    dataset = mapping_dataset(organization, investigator)
    client = login(investigator)
    detail = page(client, reverse("datasets:detail", args=[dataset.pk]))
    assert detail.find("a", lambda e: e.attrs.get("href") == reverse("datasets:mapping", args=[dataset.pk]))

    document = page(client, reverse("datasets:mapping", args=[dataset.pk]))
    columns = selects(document)
    assert list(columns) == ["column_0", "column_1", "column_2"]
    labels = {label.attrs["for"]: label.text() for label in document.find_all("label")}
    assert [labels[f"id_column_{n}"] for n in range(3)] == UNKNOWN_HEADER
    assert selected(columns["column_0"]) == ""
    assert selected(columns["column_1"]) == "address", "the recognised column is suggested"
    options = {option.attrs["value"]: option.text() for option in columns["column_0"].find_all("option")}
    assert options["full_name"] == "Full name *"
    assert options["address"] == "Address"
    assert "Full name" in main_of(document).text()
    assert document.find("input", lambda e: e.attrs.get("name") == "save_as") is not None


def test_mapping_page_refuses_a_mapping_without_required_fields_or_with_a_field_twice(
    organization: Organization, investigator: User
) -> None:
    dataset = mapping_dataset(organization, investigator)
    client = login(investigator)
    url = reverse("datasets:mapping", args=[dataset.pk])

    response = client.post(url, {"column_0": "", "column_1": "address", "column_2": ""})
    assert response.status_code == 200
    alert = parse(response.content).find(where=lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert "Full name" in alert.text()

    response = client.post(url, {"column_0": "full_name", "column_1": "full_name", "column_2": ""})
    document = parse(response.content)
    invalid = [select.attrs["name"] for select in document.find_all("select") if select.attrs.get("aria-invalid")]
    assert invalid == ["column_0", "column_1"]
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.NEEDS_MAPPING
    assert not ColumnMapping.objects.exists()


def test_mapping_flow_applies_loads_and_saves_the_mapping_for_the_next_file(
    organization: Organization, investigator: User
) -> None:
    dataset = mapping_dataset(organization, investigator)
    client = login(investigator)
    response = client.post(
        reverse("datasets:mapping", args=[dataset.pk]),
        {"column_0": "full_name", "column_1": "address", "column_2": "", "save_as": "Списки МВС"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:detail", args=[dataset.pk])
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.QUEUED
    assert dataset.mapping_used == {"Прізвище та ініціали": "full_name", "Адреса": "address"}
    saved = ColumnMapping.objects.get()
    assert (saved.name, saved.organization_id, saved.kind) == ("Списки МВС", organization.pk, "registry_person")

    dataset = run(dataset, investigator)
    assert dataset.status == DatasetStatus.READY
    assert dataset.rows_loaded == 2
    assert set(RegistryPerson.objects.filter(dataset=dataset).values_list("full_name", flat=True)) == {
        pii_token(SHEVCHENKO, PIIKind.PERSON_NAME),
        pii_token(KOVAL, PIIKind.PERSON_NAME),
    }
    detail = page(client, reverse("datasets:detail", args=[dataset.pk]))
    assert "Saved mapping “Списки МВС”." in detail.text()
    mapping_section = detail.find("section", lambda e: e.attrs.get("aria-labelledby") == "mapping-heading")
    assert mapping_section is not None
    assert [
        [cell.text() for cell in row.find_all(where=lambda e: e.tag in {"th", "td"})]
        for row in mapping_section.find_all("tr")[1:]
    ] == [
        ["Прізвище та ініціали", "Full name"],
        ["Адреса", "Address"],
        ["Примітка", "not loaded"],
    ]

    # The next file with the same columns needs no one to map it.
    later = services.dataset_create(
        organization=organization,
        user=investigator,
        file=SimpleUploadedFile("mvs-2.csv", csv_bytes(UNKNOWN_HEADER, [["Мельник Петро", "м. Одеса", ""]])),
        name="Список МВС, лютий",
        kind=RecordKind.REGISTRY_PERSON,
        source=DatasetSource.UPLOAD,
    ).dataset
    later = run(later, investigator)
    assert later.status == DatasetStatus.READY
    assert later.column_mapping == saved

    # A mapping is only asked for while the dataset needs one.
    response = client.get(reverse("datasets:mapping", args=[dataset.pk]))
    assert response["Location"] == reverse("datasets:detail", args=[dataset.pk])


def test_mapping_name_already_taken_is_refused(organization: Organization, investigator: User) -> None:
    ColumnMapping.objects.create(
        organization=organization, name="Списки МВС", kind="registry_person", headers=[], columns={}
    )
    dataset = mapping_dataset(organization, investigator)
    response = login(investigator).post(
        reverse("datasets:mapping", args=[dataset.pk]),
        {"column_0": "full_name", "column_1": "", "column_2": "", "save_as": "списки мвс"},
    )
    save_as = parse(response.content).find("input", lambda e: e.attrs.get("name") == "save_as")
    assert save_as is not None
    assert save_as.attrs.get("aria-invalid") == "true"


# --- failure and retry -----------------------------------------------------------------------------------------


@pytest.fixture
def failed_dataset(organization: Organization, investigator: User) -> tuple[Dataset, bytes]:
    """A dataset whose stored file was out of reach when the worker ran (storage trouble), then came back."""
    created = services.dataset_create(
        organization=organization,
        user=investigator,
        file=persons_file(),
        name="Реєстр осіб",
        kind=RecordKind.REGISTRY_PERSON,
        source=DatasetSource.UPLOAD,
    ).dataset
    content = default_storage.open(created.file.name).read()
    default_storage.delete(created.file.name)
    dataset = run(created, investigator)
    assert dataset.status == DatasetStatus.FAILED
    return dataset, content


def test_failed_dataset_shows_the_error_and_retry_loads_it(
    failed_dataset: tuple[Dataset, bytes], investigator: User
) -> None:
    dataset, content = failed_dataset
    client = login(investigator)
    document = page(client, reverse("datasets:detail", args=[dataset.pk]))
    alert = main_of(document).find("section", lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert dataset.error in alert.text()
    form = alert.find("form")
    assert form is not None
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == reverse("datasets:retry", args=[dataset.pk])
    assert client.get(form.attrs["action"]).status_code == 405, "retrying is a POST only"

    with default_storage.open(dataset.file.name, "wb") as stored:
        stored.write(content)
    response = client.post(form.attrs["action"])
    assert response["Location"] == reverse("datasets:detail", args=[dataset.pk])
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.QUEUED
    assert dataset.error == ""

    dataset = run(dataset, investigator)
    assert dataset.status == DatasetStatus.READY
    runs = main_of(page(client, reverse("datasets:detail", args=[dataset.pk]))).find(
        "section", lambda e: e.attrs.get("aria-labelledby") == "runs-heading"
    )
    assert runs is not None
    statuses = [row.find_all("td")[1].text() for row in runs.find_all("tr")[1:]]
    assert statuses == ["Ready", "Failed"]


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_offers_a_retry_and_a_live_run_does_not(
    failed_dataset: tuple[Dataset, bytes], investigator: User
) -> None:
    dataset, _content = failed_dataset
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.RUNNING, error="")
    client = login(investigator)
    url = reverse("datasets:detail", args=[dataset.pk])

    alert = main_of(page(client, url)).find("section", lambda e: e.attrs.get("aria-labelledby") == "stalled-heading")
    assert alert is not None
    form = alert.find("form")
    assert form is not None
    assert form.attrs["action"] == reverse("datasets:retry", args=[dataset.pk])

    # Another connection holds the run lock, as a live worker's does: no retry is offered, and none is taken.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [(services.RUN_LOCK_NAMESPACE << 32) + dataset.pk])
        assert "stalled-heading" not in client.get(url).content.decode()
        response = client.post(form.attrs["action"], follow=True)
        assert "being loaded right now" in parse(response.content).text()
        assert Dataset.objects.get(pk=dataset.pk).status == DatasetStatus.RUNNING
    finally:
        other.close()

    client.post(form.attrs["action"])
    assert Dataset.objects.get(pk=dataset.pk).status == DatasetStatus.QUEUED
    celery_app.control.purge()


def test_retrying_a_loaded_dataset_is_refused_with_a_message(investigator: User, dataset: Dataset) -> None:
    client = login(investigator)
    response = client.post(reverse("datasets:retry", args=[dataset.pk]), follow=True)
    assert "already loaded" in parse(response.content).text()
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY


# --- in a real browser -----------------------------------------------------------------------------------------

UPLOAD_SCRIPT = Path(__file__).with_name("upload.mjs")
# The browser test's fixtures: Debian's chromium, and Daphne serving pages and websockets on the test database.
browser_tools = browser_conftest.browser_tools
asgi_live_server = browser_conftest.asgi_live_server
BROWSER_TIMEOUT = 90


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_drop_upload_and_follow_the_pipeline_live_in_a_browser(
    browser_tools: str, asgi_live_server: str, organization: Organization, investigator: User, tmp_path: Path
) -> None:
    people = [[str(n), "ЄДР", f"Особа Номер {n}", "01.02.1990", "", f"м. Київ, буд. {n}", ""] for n in range(1, 3001)]
    csv_path = tmp_path / "особи.csv"
    csv_path.write_bytes(csv_bytes(PERSON_HEADER, people))
    driver = subprocess.Popen(
        ["node", str(UPLOAD_SCRIPT), asgi_live_server, investigator.username, DEFAULT_PASSWORD, str(csv_path)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CHROMIUM_PATH": browser_tools},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(BROWSER_TIMEOUT, driver.kill)
    watchdog.start()
    try:
        assert driver.stdout is not None
        lines = []
        for line in driver.stdout:
            lines.append(line)
            if line.startswith("UPLOADED "):
                # What the worker would do with the queued upload, here, while the browser watches.
                loaded = services.dataset_run(dataset_id=int(line.split()[1]), user=investigator, hooks_inline=True)
                assert loaded.status == DatasetStatus.READY, loaded.error
        driver.wait()
    finally:
        watchdog.cancel()
        # The upload queued a Celery task on the test broker; no worker may pick it up in a later test.
        celery_app.control.purge()
    stderr = driver.stderr.read() if driver.stderr else ""
    results = [line for line in lines if line.startswith("RESULT ")]
    assert results, f"the browser driver printed no result: {''.join(lines)} {stderr}"
    result = json.loads(results[-1].removeprefix("RESULT "))
    assert "error" not in result, f"{result.get('error')} {stderr}"

    dataset = Dataset.objects.get()
    with translation.override("uk"):
        stage_labels = {str(stage.label) for stage in DatasetStage}
        bytes_unit = translation.gettext("bytes")
    assert result["dropped"] == {
        "highlighted": True,
        "highlightedAfterDrop": False,
        "fileName": "перетягнутий.csv",
        "chosen": f"перетягнутий.csv · 31 {bytes_unit}",
    }
    assert result["uploadPath"] == "/datasets/upload/", "the upload happens in the page, without leaving it"
    assert result["uploadBar"], "the upload reported its progress"
    assert result["uploadBar"][-1] == {"value": 100, "hidden": False}
    assert result["datasetId"] == str(dataset.pk)
    assert result["panelPolls"] == "every 2s, dataset-progress-refresh"

    assert "dataset.progress" in result["socketTypes"]
    seen = result["progressSeen"]
    assert seen, "the progress panel moved with the websocket"
    assert all(entry["value"] == entry["sent"] for entry in seen), seen
    assert seen[-1]["value"] == 100
    assert seen[-1]["loaded"] == "3000"
    assert {entry["stage"] for entry in seen} <= stage_labels
    assert all(entry["toasts"] == 0 for entry in seen), "progress never piles up in the notification list"

    assert result["finalPath"] == f"/datasets/{dataset.pk}/"
    assert result["heading"] == "особи.csv"
    assert "3000" in result["messages"]
    assert dataset.rows_loaded == 3000
    assert result["pageErrors"] == []
