"""The permission matrix of every case page and API endpoint, written once as a table.

Six callers meet one case: an anonymous visitor, an administrator of another organisation, an investigator of the
organisation who is not on the case, the case's lead (the team), a supervisor and an administrator of the
organisation. A case somebody may not see is a 404 everywhere, whatever the reason; assigning is the supervisors'.
Every allowed write is checked for its effect, so a view that answers 302 without doing anything fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cases import services
from apps.cases.models import Case, CaseExport, CaseStatus
from tests.api_testing import api_key_client

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "bystander", "investigator", "supervisor", "org_admin")
OK, HIDDEN, FORBIDDEN, LOGIN = "ok", "hidden", "forbidden", "login"
# What each caller gets on a case: the team and the organisation's supervisors and administrators work it.
DEFAULT = {
    "anonymous": LOGIN,
    "outsider": HIDDEN,
    "bystander": HIDDEN,
    "investigator": OK,
    "supervisor": OK,
    "org_admin": OK,
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    url: Callable[[Case], str]
    data: Callable[[Case], dict[str, Any]] = lambda case: {}
    api: bool = False
    # Checked after an allowed request: what it should have done.
    effect: Callable[[Case], bool] | None = None
    expected: dict[str, str] = field(default_factory=lambda: DEFAULT)


def _tab(tab: str) -> Callable[[Case], str]:
    return lambda case: f"{reverse('cases:detail', args=[case.pk])}?tab={tab}"


def _evidence_file(case: Case) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("akt.txt", "Акт перевірки".encode()), "description": "акт"}


def _task_pk(case: Case) -> int:
    return case.tasks.get().pk


def _evidence_pk(case: Case) -> int:
    return case.evidence.get().pk


ENDPOINTS = [
    *[
        Endpoint(f"page {tab}", "get", _tab(tab))
        for tab in ("overview", "links", "notes", "tasks", "evidence", "timeline", "reports")
    ],
    Endpoint(
        "edit",
        "post",
        lambda case: reverse("cases:edit", args=[case.pk]),
        lambda case: {"title": "Нова назва", "priority": "low", "due_date": "2030-01-31", "tags": "пдв"},
        effect=lambda case: Case.objects.get(pk=case.pk).title == "Нова назва",
    ),
    Endpoint(
        "assign",
        "post",
        lambda case: reverse("cases:assign", args=[case.pk]),
        lambda case: {"lead": case.lead_id, "team": [case.lead_id, User.objects.get(username="bystander").pk]},
        effect=lambda case: Case.objects.get(pk=case.pk).team.filter(username="bystander").exists(),
        # Assigning is refused to anybody without the right to assign, before any case is looked up.
        expected={**DEFAULT, "investigator": FORBIDDEN, "bystander": FORBIDDEN},
    ),
    Endpoint(
        "status",
        "post",
        lambda case: reverse("cases:status", args=[case.pk]),
        lambda case: {"status": CaseStatus.TRIAGE},
        effect=lambda case: Case.objects.get(pk=case.pk).status == CaseStatus.TRIAGE,
    ),
    Endpoint(
        "note",
        "post",
        lambda case: reverse("cases:note-add", args=[case.pk]),
        lambda case: {"body": "Перевірити **накладні**"},
        effect=lambda case: case.notes.count() == 1,
    ),
    Endpoint(
        "task",
        "post",
        lambda case: reverse("cases:task-add", args=[case.pk]),
        lambda case: {"title": "Запит до банку", "assignee": case.lead_id},
        effect=lambda case: case.tasks.count() == 2,
    ),
    Endpoint(
        "task done",
        "post",
        lambda case: reverse("cases:task-done", args=[case.pk, _task_pk(case)]),
        lambda case: {"done": "1"},
        effect=lambda case: case.tasks.get().done_at is not None,
    ),
    Endpoint(
        "evidence upload",
        "post",
        lambda case: reverse("cases:evidence-add", args=[case.pk]),
        _evidence_file,
        effect=lambda case: case.evidence.count() == 2,
    ),
    Endpoint(
        "evidence download", "get", lambda case: reverse("cases:evidence-download", args=[case.pk, _evidence_pk(case)])
    ),
    Endpoint(
        "report request",
        "post",
        lambda case: reverse("cases:export-request", args=[case.pk]),
        lambda case: {"fmt": "csv"},
        effect=lambda case: CaseExport.objects.filter(case=case).count() == 1,
    ),
    Endpoint("api detail", "get", lambda case: reverse("api:case-detail", args=[case.pk]), api=True),
    Endpoint(
        "api status",
        "post",
        lambda case: reverse("api:case-status", args=[case.pk]),
        lambda case: {"status": CaseStatus.TRIAGE},
        api=True,
        effect=lambda case: Case.objects.get(pk=case.pk).status == CaseStatus.TRIAGE,
    ),
    Endpoint("api notes", "get", lambda case: reverse("api:case-notes", args=[case.pk]), api=True),
    Endpoint(
        "api note",
        "post",
        lambda case: reverse("api:case-notes", args=[case.pk]),
        lambda case: {"body": "Нотатка через API"},
        api=True,
        effect=lambda case: case.notes.filter(body="Нотатка через API").exists(),
    ),
    Endpoint("api reports", "get", lambda case: reverse("api:case-reports", args=[case.pk]), api=True),
    Endpoint(
        "api report request",
        "post",
        lambda case: reverse("api:case-reports", args=[case.pk]),
        lambda case: {"fmt": "csv"},
        api=True,
        effect=lambda case: CaseExport.objects.filter(case=case).count() == 1,
    ),
]

# The case page's task and evidence rows the matrix needs to exist before the request.
NEEDS_TASK = {"task", "task done"}
NEEDS_EVIDENCE = {"evidence upload", "evidence download"}


def caller(request: pytest.FixtureRequest, role: str, *, api: bool) -> tuple[Any, User | None]:
    if role == "anonymous":
        return (APIClient() if api else Client()), None
    user: User = request.getfixturevalue(role)
    if api:
        return api_key_client(user), user
    client = Client()
    client.force_login(user)
    return client, user


def outcome(response: Any, *, api: bool) -> str:
    code = response.status_code
    if code == 404:
        return HIDDEN
    if code == 403:
        return FORBIDDEN
    if (api and code == 401) or (code == 302 and "/login/" in response["Location"]):
        return LOGIN
    if code in (200, 201, 202) or (code == 302 and "/cases/" in response["Location"]):
        return OK
    return f"unexpected {code}"


class Rollback(Exception):
    pass


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_case_endpoint_permissions(
    request: pytest.FixtureRequest, endpoint: Endpoint, case: Case, investigator: User, bystander: User
) -> None:
    """Each caller in turn, each in a transaction rolled back after it, so every caller meets the same case."""
    if endpoint.name in NEEDS_TASK:
        services.case_task_add(actor=investigator, case=case, title="Витяг з реєстру")
    if endpoint.name in NEEDS_EVIDENCE:
        services.case_evidence_add(actor=investigator, case=case, file=SimpleUploadedFile("a.txt", b"evidence"))
    results = {}
    for role in ROLES:
        client, _user = caller(request, role, api=endpoint.api)
        try:
            with transaction.atomic():
                url, data = endpoint.url(case), endpoint.data(case)
                if endpoint.method == "get":
                    response = client.get(url)
                elif endpoint.api:
                    response = client.post(url, data, format="json")
                else:
                    response = client.post(url, data)
                got = outcome(response, api=endpoint.api)
                if endpoint.effect is not None and endpoint.effect(case) is not (got == OK):
                    got += " without its effect" if got == OK else " but with its effect"
                results[role] = got
                raise Rollback
        except Rollback:
            pass
    assert results == endpoint.expected


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("api", [False, True], ids=["page", "api"])
def test_case_list_shows_the_case_only_to_those_who_work_it(
    request: pytest.FixtureRequest, role: str, api: bool, case: Case, bystander: User
) -> None:
    client, _user = caller(request, role, api=api)
    response = client.get(reverse("api:case-list") if api else reverse("cases:list"))
    expected = DEFAULT[role]
    if expected == LOGIN:
        assert outcome(response, api=api) == LOGIN
        return
    assert response.status_code == 200
    if api:
        listed = case.pk in {row["id"] for row in response.data["results"]}
    else:
        listed = case.title in response.content.decode()
    assert listed is (expected == OK)


@pytest.mark.parametrize("role", ["outsider", "bystander"])
def test_adding_to_a_case_one_cannot_see_is_refused(
    request: pytest.FixtureRequest, role: str, case: Case, person: Any
) -> None:
    client, _user = caller(request, role, api=False)
    response = client.post(reverse("cases:case-add-items"), {"case": case.pk, "entities": str(person.pk)})
    assert response.status_code == 400
    assert case.entity_links.count() == 1


def test_reassignment_moves_access(case: Case, supervisor: User, investigator: User, bystander: User) -> None:
    """The old lead loses the case (404) the moment the new one gains it."""
    old, new = Client(), Client()
    old.force_login(investigator)
    new.force_login(bystander)
    detail = reverse("cases:detail", args=[case.pk])
    assert (old.get(detail).status_code, new.get(detail).status_code) == (200, 404)

    services.case_assign(actor=supervisor, case=case, lead=bystander, team=[bystander])

    assert (old.get(detail).status_code, new.get(detail).status_code) == (404, 200)
    assert set(Case.objects.restrict(investigator, "view")) == set()
    assert set(Case.objects.restrict(bystander, "change")) == {case}


def test_an_investigator_cannot_assign_a_case_to_somebody_else(
    organization: Any, investigator: User, bystander: User
) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.case_create(actor=investigator, organization=organization, title="Моя справа", lead=bystander)
    mine = services.case_create(actor=investigator, organization=organization, title="Моя справа")
    assert mine.lead == investigator
    assert set(Case.objects.restrict(investigator, "change")) == {mine}


def test_a_team_cannot_reach_across_organisations(case: Case, supervisor: User, outsider: User) -> None:
    from apps.core.errors import DomainError

    with pytest.raises(DomainError):
        services.case_assign(actor=supervisor, case=case, lead=outsider, team=[outsider])
    assert not Case.objects.restrict(outsider, "view").exists()


def test_partner_api_opens_a_case_linked_to_its_findings(
    organization: Any, supervisor: User, investigator: User, anomaly: Any, person: Any, other_organization: Any
) -> None:
    from tests.cases.conftest import anomaly_for

    client = api_key_client(supervisor)
    body = {
        "title": "Через API",
        "priority": "critical",
        "lead_id": investigator.pk,
        "anomaly_ids": [anomaly.pk],
        "entity_ids": [person.pk],
        "tags": ["API"],
    }
    response = client.post(reverse("api:case-list"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.data["lead"] == "investigator"
    assert response.data["anomalies"] == [anomaly.pk]
    assert [entity["id"] for entity in response.data["entities"]] == [person.pk]
    assert response.data["tags"] == ["api"]

    foreign = anomaly_for(other_organization, "foreign")
    refused = client.post(reverse("api:case-list"), {"title": "x", "anomaly_ids": [foreign.pk]}, format="json")
    assert refused.status_code == 400
    assert Case.objects.count() == 1

    bystander_client = api_key_client(User.objects.get(username="investigator"))
    assigned = bystander_client.post(reverse("api:case-list"), {"title": "x", "lead_id": supervisor.pk}, format="json")
    assert assigned.status_code == 403
    closing = client.post(reverse("api:case-status", args=[response.data["id"]]), {"status": "closed"}, format="json")
    assert closing.status_code == 400
    assert "cannot go from" in closing.data["detail"]
