"""Reads on cases for the pages, the API, the reports and the reminders.

Cases are read through ``Case.objects.restrict(user, action)``: the organisation first, then the object permissions
of the team (django-guardian) or the role's permission for the whole organisation. A case's children are read only
for a case that came through it. Linked anomalies and entities are read through their own ``restrict()`` too, so a
user sees on a case only what their role may see elsewhere.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet

from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.anomalies.models import Anomaly
from apps.cases.models import (
    Case,
    CaseAnomaly,
    CaseEntity,
    CaseEvidence,
    CaseExport,
    CaseNote,
    CaseRecord,
    CaseTask,
)
from apps.entities.models import Entity
from apps.privacy.targets import tokens_in

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    AnyUser = User | AnonymousUser

CHILD_MODELS = (CaseAnomaly, CaseEntity, CaseRecord, CaseNote, CaseTask, CaseEvidence, CaseExport)
# People a case can be assigned to: partners integrate over the API and do not work cases.
ASSIGNABLE_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR, Role.ADMIN)


def case_list(*, user: AnyUser, action: str = "view") -> QuerySet[Case]:
    return Case.objects.restrict(user, action).select_related("lead")


def case_get(*, user: AnyUser, pk: int, action: str = "view") -> Case:
    """The case, if ``user`` may ``action`` it; ``Case.DoesNotExist`` otherwise, whatever the reason."""
    return case_list(user=user, action=action).select_related("organization", "created_by", "closed_by").get(pk=pk)


def case_assignable_users(*, organization_id: int) -> QuerySet[User]:
    return (
        User.objects.filter(
            is_active=True, membership__organization_id=organization_id, membership__role__in=ASSIGNABLE_ROLES
        )
        .select_related("membership")
        .order_by("username")
    )


def case_people(*, case: Case) -> QuerySet[User]:
    """Who works the case (lead and team), the users a task may be given to besides supervisors."""
    return User.objects.filter(Q(cases=case) | Q(cases_led=case), is_active=True).distinct().order_by("username")


def case_anomalies(*, user: AnyUser, case: Case) -> QuerySet[Anomaly]:
    return Anomaly.objects.restrict(user, "view").filter(case_links__case=case).order_by("-score", "id")


def case_entities(*, user: AnyUser, case: Case) -> QuerySet[Entity]:
    return Entity.objects.restrict(user, "view").filter(case_links__case=case).order_by("name", "id")


def case_records(*, case: Case) -> QuerySet[CaseRecord]:
    return case.record_links.select_related("added_by")


def case_notes(*, case: Case) -> QuerySet[CaseNote]:
    return case.notes.select_related("author")


def case_tasks(*, case: Case) -> QuerySet[CaseTask]:
    return case.tasks.select_related("assignee", "done_by")


def case_evidence(*, case: Case) -> QuerySet[CaseEvidence]:
    return case.evidence.select_related("added_by")


def case_exports(*, user: AnyUser, case: Case) -> QuerySet[CaseExport]:
    """The user's own reports of the case: a report is made for the person who asked for it."""
    return case.exports.filter(requested_by_id=user.pk)


@dataclass(frozen=True)
class TimelineEntry:
    entry: LogEntry
    subject: str
    changes: list[tuple[str, str, str]]


def case_timeline(*, case: Case) -> list[TimelineEntry]:
    """Every audited change of the case and of what belongs to it, latest first: who, when, what."""
    content_types = ContentType.objects.get_for_models(Case, *CHILD_MODELS)
    case_type = content_types[Case]
    child_types = [content_types[model] for model in CHILD_MODELS]
    entries = (
        LogEntry.objects.filter(
            Q(content_type=case_type, object_pk=str(case.pk))
            | Q(content_type__in=child_types, additional_data__case_id=case.pk)
        )
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")
    )
    timeline = []
    for entry in entries:
        model = entry.content_type.model_class()
        subject = str(model._meta.verbose_name) if model is not None else entry.content_type.model
        timeline.append(TimelineEntry(entry=entry, subject=subject, changes=_changes(entry, model)))
    return timeline


def _changes(entry: LogEntry, model: Any) -> list[tuple[str, str, str]]:
    """``(field, before, after)`` of an entry: choices by their labels, a team change as the operation and who."""
    display = _display_changes(entry)
    changes = []
    for name, raw in entry.changes_dict.items():
        label = name
        if model is not None:
            with contextlib.suppress(FieldDoesNotExist):
                label = str(getattr(model._meta.get_field(name), "verbose_name", name))
        values = raw if isinstance(raw, dict) else display.get(label, raw)
        changes.append((label, _change_text(values, 0), _change_text(values, 1)))
    return changes


def _display_changes(entry: LogEntry) -> dict[str, Any]:
    try:
        return {str(key): value for key, value in entry.changes_display_dict.items()}
    except (LookupError, ValueError, TypeError):
        # An entry written before a field was renamed or removed: its raw changes still say what happened.
        return {}


def _change_text(values: Any, index: int) -> str:
    if isinstance(values, list | tuple) and len(values) > index:
        value = values[index]
        return "—" if value in (None, "None", "") else str(value)
    if isinstance(values, dict):
        # A many-to-many change (the team): {"operation": "add", "objects": [...]}.
        if index == 0:
            return str(values.get("operation", ""))
        return ", ".join(str(item) for item in values.get("objects", []))
    return ""


def case_pii_tokens(case: Case, user: Any) -> dict[str, list[str]]:
    """What an unlock of the case discloses (``apps.privacy.targets``): the tokens the case's page shows ``user`` in
    clear while it is unlocked, and its report may then carry in clear. Notes stay masked: they are free text."""
    return {
        "case": tokens_in([case.title, case.description]),
        "entities": tokens_in(case_entities(user=user, case=case).values_list("name", flat=True)),
        "anomalies": tokens_in(case_anomalies(user=user, case=case).values_list("title", flat=True)),
        "records": tokens_in(case_records(case=case).values_list("label", flat=True)),
        "tasks": tokens_in(case_tasks(case=case).values_list("title", flat=True)),
    }
