"""Case reports: each format is built by the Celery task into storage and downloaded through a signed link that
expires; personal data stays masked unless the requester may export it and unlocked the case; spreadsheet cells
never become formulas."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization, Tier, User
from apps.cases import services
from apps.cases.models import Case, CaseExport, ExportStatus
from apps.entities.models import Entity
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import PIIVaultEntry
from apps.privacy.services import pii_unlock
from apps.privacy.vault import encrypt
from tests.api_testing import api_key_client
from tests.cases.conftest import PERSON_NAME

pytestmark = pytest.mark.django_db

HOSTILE_TITLE = '=HYPERLINK("http://evil.example","Схема")'
HOSTILE_NOTE = "+cmd|' /C calc'!A0"
HOSTILE_TASK = "@SUM(1+1)"


@pytest.fixture
def person_in_vault(organization: Organization, person: Entity) -> str:
    token = pii_token(PERSON_NAME, PIIKind.PERSON_NAME)
    PIIVaultEntry.objects.create(
        organization=organization, token=token, kind=PIIKind.PERSON_NAME, ciphertext=encrypt(token, PERSON_NAME)
    )
    return token


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def export_via_page(
    client: Client, case: Case, fmt: str, capture: DjangoCaptureOnCommitCallbacks
) -> tuple[CaseExport, str]:
    """Ask for a report on the case page, let the task run, and return it with the link the page shows."""
    with capture(execute=True):
        response = client.post(reverse("cases:export-request", args=[case.pk]), {"fmt": fmt})
    assert response.status_code == 302
    export = CaseExport.objects.filter(case=case).latest("pk")
    page = client.get(reverse("cases:detail", args=[case.pk]), {"tab": "reports"}).content.decode()
    marker = "/cases/reports/"
    start = page.index(marker)
    link = page[start : page.index('"', start)]
    return export, link


def download(link: str) -> bytes:
    # The link needs no session: a partner's system can follow it too.
    response = Client().get(link)
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def text_of(fmt: str, content: bytes) -> str:
    if fmt == "csv":
        return content.decode("utf-8-sig")
    if fmt == "xlsx":
        workbook = load_workbook(io.BytesIO(content))
        return "\n".join(
            str(cell.value) for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row if cell.value
        )
    if fmt == "pptx":
        presentation = Presentation(io.BytesIO(content))
        texts = []
        for slide in presentation.slides:
            for shape in slide.shapes:
                if shape.has_text_frame:
                    texts.append(shape.text_frame.text)
                if shape.has_table:
                    texts += [cell.text for row in shape.table.rows for cell in row.cells]
        return "\n".join(texts)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.usefixtures("eager_celery")
@pytest.mark.parametrize("fmt", ["pdf", "xlsx", "csv", "pptx"])
def test_each_format_is_built_into_storage_and_masks_personal_data(
    fmt: str, case: Case, investigator: User, person_in_vault: str, django_capture_on_commit_callbacks: Any
) -> None:
    services.case_note_add(actor=investigator, case=case, body="Директор — див. сутність")
    client = signed_in(investigator)
    export, link = export_via_page(client, case, fmt, django_capture_on_commit_callbacks)

    assert export.status == ExportStatus.READY
    assert not export.pii_unmasked
    content = download(link)
    with export.file.open("rb") as stored:
        assert stored.read() == content
    text = text_of(fmt, content)
    assert "Схема заниження вартості" in text
    assert person_in_vault in text
    assert PERSON_NAME not in text
    assert "Директор" in text


@pytest.mark.usefixtures("eager_celery")
def test_an_unlocked_case_is_exported_in_clear_only_by_a_holder_of_export_pii(
    case: Case, org_admin: User, supervisor: User, person_in_vault: str, django_capture_on_commit_callbacks: Any
) -> None:
    pii_unlock(user=supervisor, target=case, reason="Підготовка матеріалів до суду")
    pii_unlock(user=org_admin, target=case, reason="Підготовка матеріалів до суду")

    # The supervisor may view personal data but not export it: masked.
    masked, link = export_via_page(signed_in(supervisor), case, "csv", django_capture_on_commit_callbacks)
    assert not masked.pii_unmasked
    assert PERSON_NAME not in text_of("csv", download(link))

    clear, link = export_via_page(signed_in(org_admin), case, "csv", django_capture_on_commit_callbacks)
    assert clear.pii_unmasked
    text = text_of("csv", download(link))
    assert PERSON_NAME in text
    assert person_in_vault not in text


@pytest.mark.usefixtures("eager_celery")
def test_export_pii_without_an_unlock_stays_masked(
    case: Case, org_admin: User, person_in_vault: str, django_capture_on_commit_callbacks: Any
) -> None:
    export, link = export_via_page(signed_in(org_admin), case, "xlsx", django_capture_on_commit_callbacks)
    assert not export.pii_unmasked
    assert PERSON_NAME not in text_of("xlsx", download(link))


@pytest.mark.usefixtures("eager_celery")
def test_spreadsheet_cells_never_become_formulas(
    organization: Organization, supervisor: User, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    case = services.case_create(
        actor=supervisor, organization=organization, title=HOSTILE_TITLE, lead=investigator, tags=["-2+3"]
    )
    services.case_note_add(actor=investigator, case=case, body=HOSTILE_NOTE)
    services.case_task_add(actor=investigator, case=case, title=HOSTILE_TASK)
    services.case_note_add(actor=investigator, case=case, body="\t=1+1")
    services.case_note_add(actor=investigator, case=case, body="\r=1+1")
    client = signed_in(investigator)

    _export, link = export_via_page(client, case, "csv", django_capture_on_commit_callbacks)
    cells = [cell for row in csv.reader(io.StringIO(download(link).decode("utf-8-sig"))) for cell in row]
    for hostile in (HOSTILE_TITLE, HOSTILE_NOTE, HOSTILE_TASK):
        assert "'" + hostile in cells
        assert hostile not in cells
    assert not [cell for cell in cells if cell.lstrip(" ").startswith(("=", "+", "@", "\t", "\r"))]

    _export, link = export_via_page(client, case, "xlsx", django_capture_on_commit_callbacks)
    workbook = load_workbook(io.BytesIO(download(link)))
    values = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    values.append(cell.value)
    # Notes are stored trimmed: a tab or a carriage return before a formula leaves the formula, escaped too.
    for hostile in (HOSTILE_TITLE, HOSTILE_NOTE, HOSTILE_TASK, "=1+1", "-2+3"):
        assert "'" + hostile in values, hostile
        assert hostile not in values


@pytest.mark.usefixtures("eager_celery")
def test_the_download_link_expires_and_cannot_be_forged(
    case: Case, investigator: User, settings: SettingsWrapper, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CASE_EXPORT_LINK_SECONDS = 60
    _export, link = export_via_page(signed_in(investigator), case, "csv", django_capture_on_commit_callbacks)
    assert Client().get(link).status_code == 200

    forged = link[:-3] + ("AAA" if not link.endswith("AAA/") else "BBB") + "/"
    assert Client().get(forged).status_code == 404

    settings.CASE_EXPORT_LINK_SECONDS = 1
    time.sleep(2.1)
    assert Client().get(link).status_code == 404


@pytest.mark.usefixtures("eager_celery")
def test_a_link_dies_with_access_to_the_case(
    case: Case, investigator: User, supervisor: User, bystander: User, django_capture_on_commit_callbacks: Any
) -> None:
    _export, link = export_via_page(signed_in(investigator), case, "csv", django_capture_on_commit_callbacks)
    services.case_assign(actor=supervisor, case=case, lead=bystander, team=[bystander])
    assert Client().get(link).status_code == 404
    # Nobody else sees the investigator's reports on the case page either.
    page = signed_in(bystander).get(reverse("cases:detail", args=[case.pk]), {"tab": "reports"}).content.decode()
    assert "/cases/reports/" not in page


def test_a_format_the_tier_does_not_include_is_refused(
    organization: Organization, case: Case, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    organization.tier = Tier.objects.get(slug="free")
    organization.save()
    from apps.accounts.tiers import tier_limits_forget

    tier_limits_forget(organization_ids=[organization.pk])
    client = signed_in(investigator)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("cases:export-request", args=[case.pk]), {"fmt": "pdf"}, follow=True)
    assert "does not include" in response.content.decode()
    assert not CaseExport.objects.exists()
    assert queued == []
    with django_capture_on_commit_callbacks() as queued:
        client.post(reverse("cases:export-request", args=[case.pk]), {"fmt": "csv"})
    assert CaseExport.objects.get().fmt == "csv"
    assert len(queued) == 1


def test_building_twice_is_harmless(case: Case, investigator: User) -> None:
    from apps.cases.reports import case_export_build

    export = services.case_export_request(actor=investigator, case=case, fmt="csv")
    built = case_export_build(export_id=export.pk)
    name, digest = built.file.name, built.sha256
    again = case_export_build(export_id=export.pk)
    assert (again.file.name, again.sha256) == (name, digest)


def test_the_case_page_shows_a_person_in_clear_only_while_the_case_is_unlocked(
    case: Case, supervisor: User, investigator: User, person_in_vault: str
) -> None:
    links = reverse("cases:detail", args=[case.pk])
    masked = signed_in(investigator).get(links, {"tab": "links"}).content.decode()
    assert person_in_vault in masked
    assert PERSON_NAME not in masked

    disclosure = pii_unlock(user=supervisor, target=case, reason="Підготовка матеріалів до суду")
    assert person_in_vault in disclosure.tokens
    clear = signed_in(supervisor).get(links, {"tab": "links"}).content.decode()
    assert PERSON_NAME in clear
    # The investigator did not unlock it: still masked for them.
    assert PERSON_NAME not in signed_in(investigator).get(links, {"tab": "links"}).content.decode()


@pytest.mark.usefixtures("eager_celery")
def test_report_files_are_deleted_after_their_retention(
    case: Case, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime

    from django.conf import settings as django_settings
    from django.utils import timezone

    from apps.cases.tasks import case_exports_prune

    export, link = export_via_page(signed_in(investigator), case, "csv", django_capture_on_commit_callbacks)
    storage, name = export.file.storage, export.file.name
    assert case_exports_prune() == 0
    CaseExport.objects.filter(pk=export.pk).update(finished_at=timezone.now() - datetime.timedelta(days=8))
    assert case_exports_prune() == 1
    export.refresh_from_db()
    assert (export.status, export.file.name) == (ExportStatus.EXPIRED, "")
    assert not storage.exists(name)
    assert Client().get(link).status_code == 404
    assert django_settings.CELERY_BEAT_SCHEDULE["cases-prune-exports"]["task"] == "apps.cases.tasks.case_exports_prune"


def enterprise_with(organization: Organization, **changes: Any) -> None:
    """The organisation on the enterprise plan (the one with API access), as an administrator edited it."""
    from apps.accounts.tiers import tier_limits_forget

    tier = Tier.objects.get(slug="enterprise")
    for name, value in changes.items():
        setattr(tier, name, value)
    tier.save()
    organization.tier = tier
    organization.save()
    tier_limits_forget(organization_ids=[organization.pk])


@pytest.mark.usefixtures("eager_celery")
def test_a_partner_asks_for_a_report_over_the_api_and_follows_its_link(
    organization: Organization,
    case: Case,
    investigator: User,
    person_in_vault: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    enterprise_with(organization)
    client = api_key_client(investigator)
    url = reverse("api:case-reports", args=[case.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"fmt": "csv"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["download_url"] is None

    listed = client.get(url).json()["results"]
    assert [(report["fmt"], report["status"]) for report in listed] == [("csv", "ready")]
    link = listed[0]["download_url"]
    assert link.startswith("http://testserver/")
    assert "/cases/reports/" in link
    text = text_of("csv", download(link.removeprefix("http://testserver")))
    # Masked: the person's token, never the name.
    assert person_in_vault in text
    assert PERSON_NAME not in text


def test_the_api_refuses_a_report_past_the_quota_with_retry_after_and_queues_nothing(
    organization: Organization, case: Case, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    # The request itself is the day's one query; the report would be the second.
    enterprise_with(organization, daily_query_limit=1)
    with django_capture_on_commit_callbacks() as queued:
        response = api_key_client(investigator).post(
            reverse("api:case-reports", args=[case.pk]), {"fmt": "csv"}, format="json"
        )
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert "used all 1 queries" in response.json()["detail"]
    assert not CaseExport.objects.exists()
    assert queued == []


def test_the_api_refuses_a_format_the_plan_does_not_include(
    organization: Organization, case: Case, investigator: User
) -> None:
    enterprise_with(organization, export_formats=["csv"])
    response = api_key_client(investigator).post(
        reverse("api:case-reports", args=[case.pk]), {"fmt": "pptx"}, format="json"
    )
    assert response.status_code == 403
    assert "does not include PPTX" in response.json()["detail"]
    bad = api_key_client(investigator).post(reverse("api:case-reports", args=[case.pk]), {"fmt": "exe"}, format="json")
    assert bad.status_code == 400
    assert "fmt" in bad.json()
    assert not CaseExport.objects.exists()


def test_a_report_past_the_quota_on_the_page_gets_the_friendly_page(
    organization: Organization, case: Case, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    enterprise_with(organization, daily_query_limit=0)
    with django_capture_on_commit_callbacks() as queued:
        response = signed_in(investigator).post(reverse("cases:export-request", args=[case.pk]), {"fmt": "csv"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert reverse("accounts:upgrade") in response.content.decode()
    assert not CaseExport.objects.exists()
    assert queued == []
