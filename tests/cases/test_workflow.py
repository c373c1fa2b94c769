"""The case workflow and its side effects: transitions allowed and refused, what closing needs, the verdict fed to
the linked anomalies, linking, due dates, sanitised notes, evidence hashes and the audit timeline."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Organization, User
from apps.anomalies.models import Anomaly, AnomalyStatus
from apps.cases import selectors, services
from apps.cases.models import SLA_DAYS, Case, CasePriority, CaseStatus, ClosureClassification
from apps.core.errors import DomainError
from tests.cases.conftest import anomaly_for, entity_for

pytestmark = pytest.mark.django_db

WALK = [CaseStatus.TRIAGE, CaseStatus.INVESTIGATING, CaseStatus.PENDING_REVIEW]


def walk_to_review(case: Case, actor: User) -> Case:
    for status in WALK:
        case = services.case_status_set(actor=actor, case=case, status=status)
    return case


def test_the_team_walks_a_case_to_review_and_a_supervisor_closes_it(
    case: Case, investigator: User, supervisor: User
) -> None:
    case = walk_to_review(case, investigator)
    assert case.status == CaseStatus.PENDING_REVIEW
    with pytest.raises(PermissionDenied):
        services.case_status_set(
            actor=investigator, case=case, status=CaseStatus.CLOSED, classification=ClosureClassification.DUPLICATE
        )
    closed = services.case_status_set(
        actor=supervisor,
        case=case,
        status=CaseStatus.CLOSED,
        classification=ClosureClassification.CONFIRMED_FRAUD,
        amount_assessed=Decimal("125000.50"),
        reason="Підтверджено актом перевірки",
    )
    assert (closed.status, closed.closed_by, closed.amount_assessed) == (
        CaseStatus.CLOSED,
        supervisor,
        Decimal("125000.50"),
    )
    assert closed.closed_at is not None


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (CaseStatus.NEW, CaseStatus.CLOSED),
        (CaseStatus.NEW, CaseStatus.PENDING_REVIEW),
        (CaseStatus.NEW, CaseStatus.NEW),
        (CaseStatus.TRIAGE, CaseStatus.NEW),
        (CaseStatus.INVESTIGATING, CaseStatus.CLOSED),
    ],
)
def test_moves_the_workflow_does_not_allow_are_refused(case: Case, supervisor: User, source: str, target: str) -> None:
    Case.objects.filter(pk=case.pk).update(status=source)
    case.refresh_from_db()
    with pytest.raises(DomainError, match="cannot go from"):
        services.case_status_set(
            actor=supervisor,
            case=case,
            status=target,
            classification=ClosureClassification.DUPLICATE,
            reason="x",
        )
    case.refresh_from_db()
    assert case.status == source


@pytest.mark.parametrize(
    ("classification", "amount", "reason", "message"),
    [
        ("", None, "", "Choose how the case is closed"),
        (ClosureClassification.CONFIRMED_FRAUD, None, "так", "amount assessed"),
        (ClosureClassification.CONFIRMED_FRAUD, Decimal(0), "так", "amount assessed"),
        (ClosureClassification.UNFOUNDED, None, "  ", "Say why"),
        (ClosureClassification.REFERRED, None, "", "Say why"),
        (ClosureClassification.DUPLICATE, None, "дубль", "duplicates"),
    ],
)
def test_closing_needs_what_its_classification_needs(
    case: Case,
    investigator: User,
    supervisor: User,
    classification: str,
    amount: Decimal | None,
    reason: str,
    message: str,
) -> None:
    case = walk_to_review(case, investigator)
    with pytest.raises(DomainError, match=message):
        services.case_status_set(
            actor=supervisor,
            case=case,
            status=CaseStatus.CLOSED,
            classification=classification,
            amount_assessed=amount,
            reason=reason,
        )
    case.refresh_from_db()
    assert case.status == CaseStatus.PENDING_REVIEW
    assert case.classification == ""


def test_linking_puts_an_anomaly_in_a_case(case: Case, anomaly: Anomaly, investigator: User) -> None:
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.IN_CASE
    assert anomaly.status_changed_by is not None


def test_confirmed_fraud_confirms_the_linked_anomalies(
    case: Case, anomaly: Anomaly, investigator: User, supervisor: User
) -> None:
    case = walk_to_review(case, investigator)
    services.case_status_set(
        actor=supervisor,
        case=case,
        status=CaseStatus.CLOSED,
        classification=ClosureClassification.CONFIRMED_FRAUD,
        amount_assessed=Decimal("10"),
    )
    anomaly.refresh_from_db()
    assert (anomaly.status, anomaly.status_changed_by) == (AnomalyStatus.CONFIRMED, supervisor)


def test_unfounded_dismisses_with_the_reason_and_reopening_puts_them_back(
    case: Case, anomaly: Anomaly, investigator: User, supervisor: User
) -> None:
    case = walk_to_review(case, investigator)
    case = services.case_status_set(
        actor=supervisor,
        case=case,
        status=CaseStatus.CLOSED,
        classification=ClosureClassification.UNFOUNDED,
        reason="Ціна відповідає контракту",
    )
    anomaly.refresh_from_db()
    assert (anomaly.status, anomaly.status_reason) == (AnomalyStatus.DISMISSED, "Ціна відповідає контракту")

    reopened = services.case_status_set(actor=supervisor, case=case, status=CaseStatus.INVESTIGATING)
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.IN_CASE
    assert (reopened.classification, reopened.closed_at, reopened.closure_reason) == ("", None, "")


def test_an_anomaly_still_worked_by_another_open_case_keeps_its_status(
    organization: Organization, case: Case, anomaly: Anomaly, investigator: User, supervisor: User
) -> None:
    services.case_create(actor=supervisor, organization=organization, title="Інша справа", anomalies=[anomaly])
    case = walk_to_review(case, investigator)
    services.case_status_set(
        actor=supervisor,
        case=case,
        status=CaseStatus.CLOSED,
        classification=ClosureClassification.UNFOUNDED,
        reason="ні",
    )
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.IN_CASE


def test_referred_and_duplicate_leave_the_anomalies_in_the_case(
    organization: Organization, case: Case, anomaly: Anomaly, investigator: User, supervisor: User
) -> None:
    original = services.case_create(actor=supervisor, organization=organization, title="Перша справа")
    services.case_status_set(actor=investigator, case=case, status=CaseStatus.TRIAGE)
    closed = services.case_status_set(
        actor=supervisor,
        case=case,
        status=CaseStatus.CLOSED,
        classification=ClosureClassification.DUPLICATE,
        duplicate_of=original,
    )
    assert closed.duplicate_of == original
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.IN_CASE


def test_nothing_of_another_organisation_can_be_linked(
    case: Case, investigator: User, other_organization: Organization
) -> None:
    foreign = anomaly_for(other_organization, "foreign")
    with pytest.raises(DomainError):
        services.case_items_add(actor=investigator, case=case, anomalies=[foreign])
    with pytest.raises(DomainError):
        services.case_items_add(actor=investigator, case=case, entities=[entity_for(other_organization)])
    foreign.refresh_from_db()
    assert foreign.status == AnomalyStatus.NEW
    assert case.anomaly_links.count() == 1


def test_one_click_from_an_entity_page_prefills_and_opens_a_linked_case(
    organization: Organization, investigator: User
) -> None:
    company = entity_for(organization, "ТОВ «Дніпро-Імпорт»")
    client = Client()
    client.force_login(investigator)
    entity_page = client.get(reverse("entities:detail", args=[company.pk])).content.decode()
    create_url = f"{reverse('cases:case-create')}?entity={company.pk}"
    assert create_url in entity_page

    form = client.get(create_url)
    assert form.status_code == 200
    assert "ТОВ «Дніпро-Імпорт»" in form.content.decode()
    response = client.post(
        reverse("cases:case-create"), {"title": "Перевірка", "priority": "high", "entities": str(company.pk)}
    )
    case = Case.objects.get()
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    assert list(selectors.case_entities(user=investigator, case=case)) == [company]
    assert case.lead == investigator
    assert case.due_date == timezone.localdate() + datetime.timedelta(days=SLA_DAYS[CasePriority.HIGH])


def test_adding_an_anomaly_to_an_existing_case(organization: Organization, case: Case, investigator: User) -> None:
    second = anomaly_for(organization, "a-2", title="Дроблення партій")
    client = Client()
    client.force_login(investigator)
    page = client.get(f"{reverse('cases:case-add-items')}?anomaly={second.pk}")
    assert page.status_code == 200
    assert "Дроблення партій" in page.content.decode()
    client.post(reverse("cases:case-add-items"), {"case": case.pk, "anomalies": str(second.pk)})
    assert set(case.anomaly_links.values_list("anomaly_id", flat=True)) == {
        second.pk,
        *case.anomaly_links.exclude(anomaly=second).values_list("anomaly_id", flat=True),
    }
    second.refresh_from_db()
    assert second.status == AnomalyStatus.IN_CASE


def test_a_record_is_linked_only_if_the_organisation_has_it(case: Case, investigator: User) -> None:
    with pytest.raises(DomainError, match="no such record"):
        services.case_items_add(actor=investigator, case=case, records=[{"kind": "tax_invoice", "id": 999999}])
    with pytest.raises(DomainError, match="Unknown record kind"):
        services.case_items_add(actor=investigator, case=case, records=[("nonsense", 1)])


def test_bulk_actions_change_the_ticked_cases(organization: Organization, supervisor: User, investigator: User) -> None:
    first = services.case_create(actor=supervisor, organization=organization, title="Перша")
    second = services.case_create(actor=supervisor, organization=organization, title="Друга")
    client = Client()
    client.force_login(supervisor)
    bulk = reverse("cases:bulk")
    client.post(bulk, {"cases": [first.pk, second.pk], "action": "tag", "tags": "ПДВ, карусель"})
    client.post(bulk, {"cases": [first.pk, second.pk], "action": "status", "status": CaseStatus.TRIAGE})
    client.post(bulk, {"cases": [first.pk], "action": "assign", "lead": investigator.pk})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.tags == second.tags == ["пдв", "карусель"]
    assert first.status == second.status == CaseStatus.TRIAGE
    assert first.lead == investigator
    assert second.lead == supervisor
    response = client.post(
        bulk, {"cases": [first.pk], "action": "status", "status": CaseStatus.PENDING_REVIEW}, follow=True
    )
    assert "cannot go from" in response.content.decode()
    first.refresh_from_db()
    assert first.status == CaseStatus.TRIAGE


def test_list_filters_are_shared_by_page_and_api(organization: Organization, supervisor: User) -> None:
    from tests.api_testing import api_key_client

    urgent = services.case_create(
        actor=supervisor, organization=organization, title="Терміново", priority=CasePriority.CRITICAL, tags=["пдв"]
    )
    services.case_create(actor=supervisor, organization=organization, title="Згодом", priority=CasePriority.LOW)
    client = Client()
    client.force_login(supervisor)
    page = client.get(reverse("cases:list"), {"priority": "critical", "tag": "ПДВ"}).content.decode()
    assert "Терміново" in page
    assert "Згодом" not in page
    api = api_key_client(supervisor).get(reverse("api:case-list"), {"priority": "critical", "tag": "пдв"})
    assert [row["id"] for row in api.data["results"]] == [urgent.pk]
    assert api_key_client(supervisor).get(reverse("api:case-list"), {"lead": "nobody"}).status_code == 400


# --- notes, evidence, timeline -------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    '<a href="#" onclick="alert(1)">a</a>',
    "<iframe src=https://example.org></iframe>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_script_survives_a_note(case: Case, investigator: User, hostile: str) -> None:
    note = services.case_note_add(actor=investigator, case=case, body=f"**Важливо** {hostile}")
    html = note.body_html.lower()
    assert "<strong>важливо</strong>" in html
    for marker in ("<script", "onerror", "onclick", "onload", "javascript:", "<iframe", "<svg", "<style", "<img"):
        assert marker not in html

    client = Client()
    client.force_login(investigator)
    page = client.get(reverse("cases:detail", args=[case.pk]), {"tab": "notes"}).content.decode().lower()
    for marker in ("<script>alert", "onerror=", "javascript:alert", "<iframe"):
        assert marker not in page


def test_evidence_is_stored_with_its_hash_and_who_added_it(case: Case, investigator: User) -> None:
    content = "Акт перевірки №12, підпис".encode() * 1000
    client = Client()
    client.force_login(investigator)
    client.post(
        reverse("cases:evidence-add", args=[case.pk]),
        {"file": SimpleUploadedFile("акт.pdf", content, content_type="application/pdf"), "description": "акт"},
    )
    evidence = case.evidence.get()
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert (evidence.size_bytes, evidence.added_by, evidence.original_filename) == (
        len(content),
        investigator,
        "акт.pdf",
    )
    with evidence.file.open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == evidence.sha256
    download = client.get(reverse("cases:evidence-download", args=[case.pk, evidence.pk]))
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == evidence.sha256


def test_the_timeline_shows_every_change_with_who_and_when(
    case: Case, investigator: User, supervisor: User, bystander: User
) -> None:
    client = Client()
    client.force_login(investigator)
    client.post(reverse("cases:status", args=[case.pk]), {"status": CaseStatus.TRIAGE})
    client.post(reverse("cases:note-add", args=[case.pk]), {"body": "Перша нотатка"})
    client.post(reverse("cases:task-add", args=[case.pk]), {"title": "Запит до банку"})
    supervisor_client = Client()
    supervisor_client.force_login(supervisor)
    supervisor_client.post(reverse("cases:assign", args=[case.pk]), {"lead": bystander.pk, "team": [bystander.pk]})

    timeline = selectors.case_timeline(case=case)
    subjects = [(item.subject, item.entry.actor) for item in timeline]
    assert ("case note", investigator) in subjects
    assert ("case task", investigator) in subjects
    # The fixture linked the anomaly outside any request: the system did it, as a Celery task would.
    assert ("linked anomaly", None) in subjects
    status_changes = [c for item in timeline for c in item.changes if c[0] == "status"]
    assert ("status", "New", "Triage") in status_changes
    lead_changes = [item for item in timeline if any(c[0] == "lead investigator" for c in item.changes)]
    assert lead_changes
    assert lead_changes[0].entry.actor == supervisor
    team_changes = [change for item in timeline for change in item.changes if change[0] == "team"]
    assert ("team", "add", "bystander") in team_changes
    assert ("team", "delete", "investigator") in team_changes
    page = supervisor_client.get(reverse("cases:detail", args=[case.pk]), {"tab": "timeline"}).content.decode()
    assert "Triage" in page
    assert "investigator" in page


# --- the pages ---------------------------------------------------------------------------------------------------


def test_every_field_of_every_case_page_is_labelled(case: Case, supervisor: User) -> None:
    from tests.core.test_pages import page, unlabelled_fields

    client = Client()
    client.force_login(supervisor)
    detail = reverse("cases:detail", args=[case.pk])
    urls = [
        reverse("cases:list"),
        reverse("cases:case-create"),
        f"{reverse('cases:case-add-items')}?entity={case.entity_links.get().entity_id}",
        *[f"{detail}?tab={tab}" for tab in ("overview", "links", "notes", "tasks", "evidence", "timeline", "reports")],
    ]
    for url in urls:
        assert unlabelled_fields(page(client, url)) == [], url


def test_htmx_gets_only_the_fragment(case: Case, supervisor: User) -> None:
    client = Client()
    client.force_login(supervisor)
    table = client.get(reverse("cases:list"), {"q": "заниження"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in table
    assert 'id="case-table"' in table
    assert case.title in table
    tab = client.get(reverse("cases:detail", args=[case.pk]), {"tab": "links"}, HTTP_HX_REQUEST="true")
    assert "<html" not in tab.content.decode()
    assert "Anomalies" in tab.content.decode()


def test_the_api_list_costs_the_same_queries_for_one_case_or_many(
    organization: Organization, supervisor: User, django_assert_max_num_queries: Any
) -> None:
    from tests.api_testing import api_key_client

    client = api_key_client(supervisor)
    services.case_create(actor=supervisor, organization=organization, title="Одна")
    with django_assert_max_num_queries(12) as one:
        assert client.get(reverse("api:case-list")).status_code == 200
    for number in range(10):
        services.case_create(actor=supervisor, organization=organization, title=f"Справа {number}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse("api:case-list"))
    assert response.data["count"] == 11


def test_a_supervisor_closes_on_the_page_with_the_verdict(
    case: Case, anomaly: Anomaly, investigator: User, supervisor: User
) -> None:
    case = walk_to_review(case, investigator)
    client = Client()
    client.force_login(supervisor)
    overview = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'name="classification"' in overview
    response = client.post(
        reverse("cases:status", args=[case.pk]),
        {"status": CaseStatus.CLOSED, "classification": "confirmed_fraud", "amount_assessed": "48000.00"},
        follow=True,
    )
    assert "The status is changed." in response.content.decode()
    case.refresh_from_db()
    anomaly.refresh_from_db()
    assert (case.status, case.amount_assessed, anomaly.status) == (
        CaseStatus.CLOSED,
        Decimal("48000.00"),
        AnomalyStatus.CONFIRMED,
    )
    # The team sees the case but no closing controls: that move is a supervisor's.
    team_client = Client()
    team_client.force_login(investigator)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.TRIAGE, classification="", amount_assessed=None)
    assert 'name="classification"' not in team_client.get(reverse("cases:detail", args=[case.pk])).content.decode()


def test_a_search_result_opens_a_case_linked_to_its_record(organization: Organization, investigator: User) -> None:
    from apps.datasets.models import Dataset, DatasetSource, DatasetStatus, RecordKind, TaxInvoice

    dataset = Dataset.objects.create(
        organization=organization,
        name="ПН за березень",
        kind=RecordKind.TAX_INVOICE,
        source=DatasetSource.UPLOAD,
        original_filename="pn.csv",
        size_bytes=10,
        sha256="0" * 64,
        status=DatasetStatus.READY,
    )
    invoice = TaxInvoice.objects.create(
        organization=organization,
        dataset=dataset,
        row_number=1,
        invoice_number="ПН-77",
        invoice_date=datetime.date(2026, 3, 1),
        seller_code="12345678",
        buyer_code="87654321",
        amount_uah=Decimal("1000.00"),
    )
    client = Client()
    client.force_login(investigator)
    reference = f"tax_invoice:{invoice.pk}"
    form = client.get(reverse("cases:case-create"), {"record": reference}).content.decode()
    assert f"tax_invoice №{invoice.pk}" in form
    client.post(reverse("cases:case-create"), {"title": "Фіктивна ПН", "priority": "medium", "records": reference})
    link = Case.objects.get().record_links.get()
    assert (link.kind, link.record_id, link.label) == ("tax_invoice", invoice.pk, "ПН-77")
