"""Django admin for cases: the organisation's own cases only; edits go through the service; no adding."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Organization, User
from apps.cases import services
from apps.cases.models import Case

pytestmark = pytest.mark.django_db


def test_an_organisation_administrator_sees_and_edits_only_their_cases(
    case: Case, org_admin: User, other_organization: Organization, outsider: User
) -> None:
    foreign = services.case_create(actor=outsider, organization=other_organization, title="Чужа справа")
    client = Client()
    client.force_login(org_admin)
    listing = client.get(reverse("admin:cases_case_changelist")).content.decode()
    assert case.title in listing
    assert "Чужа справа" not in listing
    assert client.get(reverse("admin:cases_case_change", args=[foreign.pk])).status_code == 302
    assert client.get(reverse("admin:cases_case_add")).status_code == 403

    change = reverse("admin:cases_case_change", args=[case.pk])
    assert client.get(change).status_code == 200
    response = client.post(
        change,
        {
            "title": "Виправлена назва",
            "description": "",
            "priority": "critical",
            "due_date": case.due_date.isoformat(),
            "tags": "пдв",
            **{
                f"{prefix}-{field}": value
                for prefix in ("notes", "tasks", "evidence", "exports")
                for field, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
            },
        },
    )
    assert response.status_code == 302, response.content[:2000]
    case.refresh_from_db()
    assert (case.title, case.priority, case.tags) == ("Виправлена назва", "critical", ["пдв"])
    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Case), object_pk=str(case.pk)
    ).latest("timestamp")
    assert entry.actor == org_admin
    assert "title" in entry.changes_dict
