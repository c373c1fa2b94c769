"""Who is told what about a case, in the page (the websocket, through the real Redis channel layer) and by e-mail
(Django's locmem outbox): assignment, @mention, status change, and the beat task's due-date reminders."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core import mail
from django.utils import timezone

from apps.accounts.models import Organization, User
from apps.cases import services
from apps.cases.models import Case, CaseStatus
from apps.cases.tasks import case_due_reminders
from nexus.celery import app as celery_app
from tests.core.test_websocket import QUIET, TIMEOUT, open_socket, session_cookie


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


@pytest.mark.django_db(transaction=True)
async def test_assignment_mention_and_status_reach_the_socket_of_who_is_concerned(
    organization: Organization, supervisor: User, investigator: User, bystander: User
) -> None:
    cookie = await database_sync_to_async(session_cookie)(investigator)
    bystander_cookie = await database_sync_to_async(session_cookie)(bystander)
    async with open_socket(cookie) as socket, open_socket(bystander_cookie) as other:
        case = await database_sync_to_async(services.case_create)(
            actor=supervisor, organization=organization, title="Карусель ПДВ", lead=investigator
        )
        assigned = await socket.receive_json_from(timeout=TIMEOUT)
        assert assigned["type"] == "case.assigned"
        assert "Карусель ПДВ" in assigned["text"]
        assert assigned["url"] == f"/cases/{case.pk}/"

        await database_sync_to_async(services.case_note_add)(
            actor=supervisor, case=case, body="@investigator перевір накладні; @bystander теж"
        )
        mentioned = await socket.receive_json_from(timeout=TIMEOUT)
        assert mentioned["type"] == "case.mention"
        assert "supervisor" in mentioned["text"]

        await database_sync_to_async(services.case_status_set)(actor=supervisor, case=case, status=CaseStatus.TRIAGE)
        changed = await socket.receive_json_from(timeout=TIMEOUT)
        assert changed["type"] == "case.status"
        assert "Triage" in changed["text"] or "Тріаж" in changed["text"]

        # The bystander cannot see the case: not told of the mention, nor of anything else.
        assert await other.receive_nothing(timeout=QUIET)


@pytest.mark.django_db
def test_mail_goes_to_who_is_concerned_and_never_to_the_actor(
    organization: Organization,
    supervisor: User,
    investigator: User,
    bystander: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_create(actor=supervisor, organization=organization, title="Схема", lead=investigator)
    assert recipients() == [investigator.email]
    assert "Схема" in mail.outbox[0].subject
    assert f"/cases/{case.pk}/" in mail.outbox[0].body
    # A mail reader has no page to resolve a relative link against: the link is absolute.
    link = mail.outbox[0].body.split()[-1]
    assert link.startswith(f"{settings.SITE_URL}/")
    assert link.endswith(f"/cases/{case.pk}/")

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_note_add(actor=investigator, case=case, body="@supervisor @bystander @investigator глянь")
    # The actor is never told; the bystander is not on the case and is not told of it.
    assert recipients() == [supervisor.email]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for status in (CaseStatus.TRIAGE, CaseStatus.INVESTIGATING, CaseStatus.PENDING_REVIEW):
            case = services.case_status_set(actor=investigator, case=case, status=status)
    # Only the review request reaches the supervisor, as one of the organisation's reviewers.
    assert recipients() == [supervisor.email]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_assign(actor=supervisor, case=case, lead=investigator, team=[investigator, bystander])
    assert recipients() == [bystander.email]


@pytest.mark.django_db
def test_a_refused_change_announces_nothing(
    case: Case, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    from apps.core.errors import DomainError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        services.case_status_set(actor=investigator, case=case, status=CaseStatus.CLOSED)
    assert mail.outbox == []


@pytest.mark.django_db
def test_due_date_reminders_go_once_per_due_date(
    organization: Organization, supervisor: User, investigator: User, django_capture_on_commit_callbacks: Any
) -> None:
    today = timezone.localdate()

    def open_case(title: str, due: datetime.date) -> Case:
        return services.case_create(
            actor=supervisor, organization=organization, title=title, lead=investigator, due_date=due
        )

    overdue = open_case("Прострочена", today - datetime.timedelta(days=2))
    due_soon = open_case("Завтра", today + datetime.timedelta(days=1))
    open_case("Згодом", today + datetime.timedelta(days=10))
    closed = open_case("Закрита", today - datetime.timedelta(days=5))
    Case.objects.filter(pk=closed.pk).update(status=CaseStatus.CLOSED, classification="duplicate")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        counts = case_due_reminders()
    assert counts == {"due_soon": 1, "overdue": 1}
    subjects = sorted(message.subject for message in mail.outbox)
    assert len(subjects) == 2
    assert any("Прострочена" in subject and "overdue" in subject for subject in subjects)
    assert any("Завтра" in subject for subject in subjects)
    assert recipients() == [investigator.email, investigator.email]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert case_due_reminders() == {"due_soon": 0, "overdue": 0}
    assert mail.outbox == []

    # A new due date is reminded of again.
    services.case_update(
        actor=supervisor,
        case=Case.objects.get(pk=due_soon.pk),
        title=due_soon.title,
        description="",
        priority=due_soon.priority,
        due_date=today,
        tags=[],
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert case_due_reminders() == {"due_soon": 1, "overdue": 0}
    overdue.refresh_from_db()
    assert overdue.overdue_notified_at is not None


def test_the_reminders_are_on_the_beat_schedule() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["cases-due-reminders"]
    assert entry["task"] == "apps.cases.tasks.case_due_reminders"
    assert entry["task"] in celery_app.tasks
