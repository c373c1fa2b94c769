"""Writes on cases. Each one keyword-only and atomic, checked here rather than in the views, audited by
django-auditlog (``apps.cases.apps``) and announced after commit (``apps.cases.notifications``).

Access follows the team: the lead and the team members hold ``view_case`` and ``change_case`` on the case
(django-guardian), granted and revoked here whenever the team changes, so a reassignment changes who sees the case
at once. Supervisors and administrators hold the same permissions for the organisation through their role, and
alone may assign (``assign_case``) and close or reopen (``close_case``).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from guardian.shortcuts import assign_perm, remove_perm

from apps.accounts.models import Organization, User
from apps.accounts.tiers import Surface, quota_consume, tier_export_check
from apps.anomalies.models import Anomaly, AnomalyStatus
from apps.anomalies.services import anomaly_status_set
from apps.cases.markdown import markdown_render, mentioned_usernames
from apps.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseAnomaly,
    CaseEntity,
    CaseEvidence,
    CaseExport,
    CaseNote,
    CasePriority,
    CaseRecord,
    CaseStatus,
    CaseTask,
    ClosureClassification,
    ExportFormat,
    ExportStatus,
    sla_due_date,
)
from apps.cases.notifications import case_notify
from apps.core.errors import DomainError
from apps.datasets.models import RECORD_MODELS, RecordKind
from apps.entities.models import Entity
from apps.privacy.selectors import pii_reveal_map

TEAM_PERMISSIONS = ("view_case", "change_case")
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
EVIDENCE_MAX_BYTES = 200 * 1024 * 1024
HASH_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Transition:
    # Only holders of ``cases.close_case`` (supervisors, administrators) may make it.
    needs_close_permission: bool
    label: Any


# The workflow: new → triage → investigating → pending review → closed. A case waiting for review may go back to
# the team; a supervisor may close at triage (a duplicate, an unfounded report) and reopen a closed case.
TRANSITIONS: dict[tuple[str, str], Transition] = {
    (CaseStatus.NEW, CaseStatus.TRIAGE): Transition(False, gettext_lazy("Start triage")),
    (CaseStatus.TRIAGE, CaseStatus.INVESTIGATING): Transition(False, gettext_lazy("Start investigating")),
    (CaseStatus.TRIAGE, CaseStatus.CLOSED): Transition(True, gettext_lazy("Close at triage")),
    (CaseStatus.INVESTIGATING, CaseStatus.PENDING_REVIEW): Transition(False, gettext_lazy("Send for review")),
    (CaseStatus.PENDING_REVIEW, CaseStatus.INVESTIGATING): Transition(False, gettext_lazy("Return to the team")),
    (CaseStatus.PENDING_REVIEW, CaseStatus.CLOSED): Transition(True, gettext_lazy("Close")),
    (CaseStatus.CLOSED, CaseStatus.INVESTIGATING): Transition(True, gettext_lazy("Reopen")),
}


@dataclass(frozen=True)
class RecordRef:
    kind: str
    id: int


# --- checks ----------------------------------------------------------------------------------------------------


def _require(actor: User, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(_("You do not have permission to do this."))


def _member_of(user: User, organization_id: int) -> None:
    if not user.is_active or user.organization_id != organization_id:
        raise DomainError(_("%(user)s is not an active member of this organisation.") % {"user": user.get_username()})


def case_visible_to(*, user: User, case: Case, action: str = "view") -> bool:
    """Whether ``user`` may ``action`` the case: the same ``restrict()`` the pages and the API read through."""
    return Case.objects.restrict(user, action).filter(pk=case.pk).exists()


def _open_only(case: Case) -> None:
    if not case.is_open:
        raise DomainError(_("The case is closed; reopen it first."))


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = " ".join(str(tag).split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise DomainError(_("A tag is at most %(length)d characters.") % {"length": MAX_TAG_LENGTH})
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise DomainError(_("A case has at most %(count)d tags.") % {"count": MAX_TAGS})
    return cleaned


def _record_ref(record: RecordRef | Mapping[str, Any] | Sequence[Any]) -> RecordRef:
    if isinstance(record, RecordRef):
        return record
    if isinstance(record, Mapping):
        kind, record_id = record.get("kind"), record.get("id")
    else:
        kind, record_id = record
    if kind not in RecordKind.values:
        raise DomainError(_("Unknown record kind: %(kind)s.") % {"kind": str(kind)[:40]})
    try:
        return RecordRef(kind=str(kind), id=int(record_id))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DomainError(_("A record id is a whole number.")) from None


# --- access ----------------------------------------------------------------------------------------------------


def _grant(case: Case, users: Iterable[User]) -> None:
    for user in users:
        for permission in TEAM_PERMISSIONS:
            assign_perm(permission, user, case)


def _revoke(case: Case, users: Iterable[User]) -> None:
    for user in users:
        for permission in TEAM_PERMISSIONS:
            remove_perm(permission, user, case)


def _people(case: Case) -> dict[int, User]:
    people = {user.pk: user for user in case.team.all()}
    if case.lead is not None:
        people[case.lead.pk] = case.lead
    return people


# --- create, link, edit ------------------------------------------------------------------------------------------


@transaction.atomic
def case_create(
    *,
    actor: User,
    organization: Organization,
    title: str,
    description: str = "",
    priority: str = CasePriority.MEDIUM,
    due_date: datetime.date | None = None,
    lead: User | None = None,
    team: Collection[User] = (),
    tags: Iterable[str] = (),
    anomalies: Iterable[Anomaly] = (),
    entities: Iterable[Entity] = (),
    records: Iterable[RecordRef | Mapping[str, Any] | Sequence[Any]] = (),
) -> Case:
    """Open a case, optionally linked to anomalies, entities and records at once (the one-click path).

    The lead is the actor unless given; the actor stays on the team when their role would not show them the case
    otherwise. The due date defaults to the priority's service level. Assigning somebody else needs
    ``cases.assign_case``.
    """
    _require(actor, "cases.add_case")
    _member_of(actor, organization.pk)
    lead = lead or actor
    members = {user.pk: user for user in team}
    members[lead.pk] = lead
    if not actor.has_perm("cases.view_case"):
        members[actor.pk] = actor
    if set(members) - {actor.pk} and not actor.has_perm("cases.assign_case"):
        raise PermissionDenied(_("Only a supervisor may assign a case to somebody else."))
    for user in members.values():
        _member_of(user, organization.pk)
    case = Case(
        organization=organization,
        title=title.strip(),
        description=description.strip(),
        priority=CasePriority(priority),
        due_date=due_date or sla_due_date(priority),
        lead=lead,
        tags=_clean_tags(tags),
        created_by=actor,
    )
    case.full_clean(exclude=["team"])
    case.save()
    case.team.set(members.values())
    _grant(case, members.values())
    case_items_add(actor=actor, case=case, anomalies=anomalies, entities=entities, records=records)
    case_notify(
        case=case,
        users=members.values(),
        event="assigned",
        text=format_lazy(
            gettext_lazy("You were assigned to case #{number}: {title}"), number=case.pk, title=case.title
        ),
        actor=actor,
    )
    return case


@dataclass(frozen=True)
class ItemsAdded:
    anomalies: int
    entities: int
    records: int

    @property
    def total(self) -> int:
        return self.anomalies + self.entities + self.records


@transaction.atomic
def case_items_add(
    *,
    actor: User,
    case: Case,
    anomalies: Iterable[Anomaly] = (),
    entities: Iterable[Entity] = (),
    records: Iterable[RecordRef | Mapping[str, Any] | Sequence[Any]] = (),
) -> ItemsAdded:
    """Link anomalies, entities and records of the case's organisation; already linked ones are left as they are.

    A newly linked anomaly is set to "in a case" (audited on the anomaly).
    """
    _open_only(case)
    anomalies, entities = list(anomalies), list(entities)
    refs = [_record_ref(record) for record in records]
    for item in [*anomalies, *entities]:
        if item.organization_id != case.organization_id:
            raise DomainError(_("Only your organisation's findings can be linked to its cases."))
    added_anomalies = 0
    for anomaly in anomalies:
        _link, created = CaseAnomaly.objects.get_or_create(case=case, anomaly=anomaly, defaults={"added_by": actor})
        if created:
            added_anomalies += 1
            if anomaly.status != AnomalyStatus.IN_CASE:
                anomaly_status_set(anomaly=anomaly, user=actor, status=AnomalyStatus.IN_CASE)
    added_entities = 0
    for entity in entities:
        added_entities += int(
            CaseEntity.objects.get_or_create(case=case, entity=entity, defaults={"added_by": actor})[1]
        )
    added_records = 0
    for ref in refs:
        record = (
            RECORD_MODELS[ref.kind]
            .objects.restrict(actor, "view")
            .filter(organization_id=case.organization_id, pk=ref.id)
            .first()
        )
        if record is None:
            raise DomainError(
                _("Your organisation has no such record: %(kind)s %(id)s.") % {"kind": ref.kind, "id": ref.id}
            )
        added_records += int(
            CaseRecord.objects.get_or_create(
                case=case, kind=ref.kind, record_id=ref.id, defaults={"added_by": actor, "label": str(record)[:500]}
            )[1]
        )
    return ItemsAdded(anomalies=added_anomalies, entities=added_entities, records=added_records)


@transaction.atomic
def case_update(
    *,
    actor: User,
    case: Case,
    title: str,
    description: str,
    priority: str,
    due_date: datetime.date,
    tags: Iterable[str],
) -> Case:
    """Change what a case is about; a new due date is reminded of again."""
    _open_only(case)
    if case.due_date != due_date:
        case.due_soon_notified_at = None
        case.overdue_notified_at = None
    case.title = title.strip()
    case.description = description.strip()
    case.priority = CasePriority(priority)
    case.due_date = due_date
    case.tags = _clean_tags(tags)
    case.full_clean(exclude=["team"])
    case.save()
    return case


@transaction.atomic
def case_tags_add(*, actor: User, cases: Iterable[Case], tags: Iterable[str]) -> int:
    """Add tags to several cases (the list's bulk action); closed cases are left alone. The number changed."""
    new_tags = _clean_tags(tags)
    changed = 0
    for case in cases:
        if not case.is_open:
            continue
        merged = _clean_tags([*case.tags, *new_tags])
        if merged != case.tags:
            case.tags = merged
            case.save(update_fields=["tags", "updated_at"])
            changed += 1
    return changed


@transaction.atomic
def case_assign(*, actor: User, case: Case, lead: User | None, team: Collection[User]) -> Case:
    """Give the case a lead and a team. Who leaves loses access to it, who joins gains it and is told."""
    _require(actor, "cases.assign_case")
    case = Case.objects.select_for_update().get(pk=case.pk)
    before = _people(case)
    previous_lead_id = case.lead_id
    members = {user.pk: user for user in team}
    if lead is not None:
        members[lead.pk] = lead
    for user in members.values():
        _member_of(user, case.organization_id)
    case.lead = lead
    case.save(update_fields=["lead", "updated_at"])
    case.team.set(members.values())
    _revoke(case, [user for pk, user in before.items() if pk not in members])
    joined = [user for pk, user in members.items() if pk not in before]
    _grant(case, joined)
    case_notify(
        case=case,
        users=joined,
        event="assigned",
        text=format_lazy(
            gettext_lazy("You were assigned to case #{number}: {title}"), number=case.pk, title=case.title
        ),
        actor=actor,
    )
    if lead is not None and lead.pk != previous_lead_id and lead.pk in before:
        case_notify(
            case=case,
            users=[lead],
            event="assigned",
            text=format_lazy(gettext_lazy("You now lead case #{number}: {title}"), number=case.pk, title=case.title),
            actor=actor,
        )
    return case


# --- workflow ----------------------------------------------------------------------------------------------------


def case_transitions(*, user: User, case: Case) -> list[tuple[str, Any]]:
    """The statuses ``user`` may move the case to, with the button label of each."""
    may_close = user.has_perm("cases.close_case")
    return [
        (target, transition.label)
        for (source, target), transition in TRANSITIONS.items()
        if source == case.status and (may_close or not transition.needs_close_permission)
    ]


def _closure_check(
    *, case: Case, classification: str, amount_assessed: Decimal | None, reason: str, duplicate_of: Case | None
) -> None:
    if classification not in ClosureClassification.values:
        raise DomainError(_("Choose how the case is closed."))
    if classification == ClosureClassification.CONFIRMED_FRAUD and (amount_assessed is None or amount_assessed <= 0):
        raise DomainError(_("Confirmed fraud needs the amount assessed."))
    if classification in (ClosureClassification.UNFOUNDED, ClosureClassification.REFERRED) and not reason:
        raise DomainError(_("Say why the case is unfounded, or which agency it is referred to."))
    if classification == ClosureClassification.DUPLICATE and (
        duplicate_of is None or duplicate_of.pk == case.pk or duplicate_of.organization_id != case.organization_id
    ):
        raise DomainError(_("Name the case of your organisation that this one duplicates."))


def _verdict_to_anomalies(*, actor: User, case: Case) -> None:
    """The closure verdict becomes each linked anomaly's status (the risk model's labels), unless another open
    case still works the anomaly."""
    if case.classification == ClosureClassification.CONFIRMED_FRAUD:
        status, reason = AnomalyStatus.CONFIRMED, case.closure_reason
    elif case.classification == ClosureClassification.UNFOUNDED:
        status, reason = AnomalyStatus.DISMISSED, case.closure_reason
    else:
        return
    anomalies = (
        Anomaly.objects.filter(case_links__case=case)
        .exclude(case_links__case__in=Case.objects.filter(status__in=OPEN_STATUSES).exclude(pk=case.pk))
        .distinct()
    )
    for anomaly in anomalies:
        anomaly_status_set(anomaly=anomaly, user=actor, status=status, reason=reason)


@transaction.atomic
def case_status_set(
    *,
    actor: User,
    case: Case,
    status: str,
    classification: str = "",
    amount_assessed: Decimal | None = None,
    reason: str = "",
    duplicate_of: Case | None = None,
) -> Case:
    """Move the case along its workflow; closing needs a classification, and feeds the verdict to the anomalies."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    transition = TRANSITIONS.get((case.status, status))
    if transition is None:
        raise DomainError(
            _("A case cannot go from “%(source)s” to “%(target)s”.")
            % {
                "source": case.get_status_display(),
                "target": CaseStatus(status).label if status in CaseStatus.values else status,
            }
        )
    if transition.needs_close_permission and not actor.has_perm("cases.close_case"):
        raise PermissionDenied(_("Only a supervisor may close or reopen a case."))
    reason = reason.strip()
    source = case.status
    case.status = status
    if status == CaseStatus.CLOSED:
        _closure_check(
            case=case,
            classification=classification,
            amount_assessed=amount_assessed,
            reason=reason,
            duplicate_of=duplicate_of,
        )
        case.classification = classification
        case.amount_assessed = amount_assessed if classification == ClosureClassification.CONFIRMED_FRAUD else None
        case.closure_reason = reason
        case.duplicate_of = duplicate_of if classification == ClosureClassification.DUPLICATE else None
        case.closed_at = timezone.now()
        case.closed_by = actor
    elif source == CaseStatus.CLOSED:
        case.classification = ""
        case.amount_assessed = None
        case.closure_reason = ""
        case.duplicate_of = None
        case.closed_at = None
        case.closed_by = None
    case.full_clean(exclude=["team"])
    case.save()
    if status == CaseStatus.CLOSED:
        _verdict_to_anomalies(actor=actor, case=case)
    elif source == CaseStatus.CLOSED:
        for anomaly in Anomaly.objects.filter(case_links__case=case).exclude(status=AnomalyStatus.IN_CASE):
            anomaly_status_set(anomaly=anomaly, user=actor, status=AnomalyStatus.IN_CASE)
    text = format_lazy(
        gettext_lazy("Case #{number} “{title}” is now {status}."),
        number=case.pk,
        title=case.title,
        status=CaseStatus(status).label,
    )
    people = list(_people(case).values())
    if status == CaseStatus.PENDING_REVIEW:
        people += list(case_reviewers(case))
    case_notify(case=case, users=people, event="status", text=text, actor=actor)
    return case


def case_reviewers(case: Case) -> Iterable[User]:
    """The organisation's active members who may close the case: its supervisors and administrators."""
    return (
        User.objects.filter(membership__organization_id=case.organization_id, is_active=True)
        .filter(groups__permissions__codename="close_case", groups__permissions__content_type__app_label="cases")
        .distinct()
    )


# --- notes, tasks, evidence ----------------------------------------------------------------------------------------


@transaction.atomic
def case_note_add(*, actor: User, case: Case, body: str) -> CaseNote:
    """A Markdown note, sanitised once here. Members mentioned by @username who can see the case are told."""
    body = body.strip()
    if not body:
        raise DomainError(_("A note cannot be empty."))
    note = CaseNote(case=case, author=actor, body=body, body_html=markdown_render(body))
    note.full_clean()
    note.save()
    usernames = mentioned_usernames(body)
    if usernames:
        mentioned = User.objects.filter(
            username__in=usernames, is_active=True, membership__organization_id=case.organization_id
        )
        case_notify(
            case=case,
            users=[user for user in mentioned if case_visible_to(user=user, case=case)],
            event="mention",
            text=format_lazy(
                gettext_lazy("{author} mentioned you in case #{number}: {title}"),
                author=actor.get_username(),
                number=case.pk,
                title=case.title,
            ),
            actor=actor,
        )
    return note


@transaction.atomic
def case_task_add(
    *,
    actor: User,
    case: Case,
    title: str,
    assignee: User | None = None,
    due_date: datetime.date | None = None,
) -> CaseTask:
    """A task of the case; its assignee must be able to see the case, and is told."""
    _open_only(case)
    if assignee is not None and not case_visible_to(user=assignee, case=case):
        raise DomainError(_("A task can only be assigned to somebody who works on the case."))
    task = CaseTask(case=case, title=title.strip(), assignee=assignee, due_date=due_date, created_by=actor)
    task.full_clean()
    task.save()
    if assignee is not None:
        case_notify(
            case=case,
            users=[assignee],
            event="task",
            text=format_lazy(
                gettext_lazy("New task for you in case #{number}: {task}"), number=case.pk, task=task.title
            ),
            actor=actor,
        )
    return task


@transaction.atomic
def case_task_done_set(*, actor: User, task: CaseTask, done: bool) -> CaseTask:
    if done and task.done_at is None:
        task.done_at, task.done_by = timezone.now(), actor
    elif not done:
        task.done_at, task.done_by = None, None
    task.save(update_fields=["done_at", "done_by"])
    return task


class _HashingFile(File):
    """Computes the SHA-256 of the content while the storage reads it, so a large file is read once."""

    def __init__(self, file: UploadedFile) -> None:
        super().__init__(file, name=file.name)
        self.hash = hashlib.sha256()
        self.read_bytes = 0

    def chunks(self, chunk_size: int | None = None) -> Any:
        for chunk in self.file.chunks(chunk_size or HASH_CHUNK_BYTES):  # type: ignore[union-attr]
            self.hash.update(chunk)
            self.read_bytes += len(chunk)
            yield chunk


@transaction.atomic
def case_evidence_add(*, actor: User, case: Case, file: UploadedFile, description: str = "") -> CaseEvidence:
    """Store a file in the case, with the SHA-256 of its content and who added it."""
    _open_only(case)
    if not file.size:
        raise DomainError(_("The file is empty."))
    if file.size > EVIDENCE_MAX_BYTES:
        raise DomainError(_("An evidence file is at most %(megabytes)d MB.") % {"megabytes": EVIDENCE_MAX_BYTES >> 20})
    original_filename = (file.name or "evidence").rsplit("/", 1)[-1][:255]
    evidence = CaseEvidence(
        case=case,
        original_filename=original_filename,
        content_type=(file.content_type or "")[:100],
        size_bytes=file.size,
        description=description.strip(),
        added_by=actor,
    )
    hashing = _HashingFile(file)
    evidence.file.save(original_filename, hashing, save=False)
    stored_name = evidence.file.name
    evidence.sha256 = hashing.hash.hexdigest()
    evidence.size_bytes = hashing.read_bytes
    try:
        evidence.full_clean()
        evidence.save()
    except Exception:
        evidence.file.storage.delete(stored_name)
        raise
    return evidence


# --- exports -----------------------------------------------------------------------------------------------------


@transaction.atomic
def case_export_request(*, actor: User, case: Case, fmt: str) -> CaseExport:
    """Queue a case report. The organisation's tier must include the format, and a report counts against its daily
    quota. Personal data is unmasked only for a holder of ``export_pii`` who has unlocked the case, and only what
    that unlock disclosed."""
    # The task module imports this one.
    from apps.cases.tasks import case_export_build

    if fmt not in ExportFormat.values:
        raise DomainError(_("Unknown report format: %(format)s.") % {"format": str(fmt)[:10]})
    tier_export_check(organization=case.organization_id, fmt=fmt)
    quota_consume(organization=case.organization_id, surface=Surface.EXPORT)
    tokens = sorted(pii_reveal_map(user=actor, target=case)) if actor.has_perm("accounts.export_pii") else []
    export = CaseExport.objects.create(
        case=case,
        fmt=fmt,
        pii_unmasked=bool(tokens),
        pii_tokens=tokens,
        requested_by=actor,
        language=translation.get_language() or "",
    )
    export_id = export.pk
    transaction.on_commit(lambda: case_export_build.delay(export_id))
    return export


EXPORT_RETENTION_DAYS = 7


def case_exports_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete report files older than ``CASE_EXPORT_RETENTION_DAYS`` (a report may hold personal data in clear);
    the export rows stay, marked expired. The number of files deleted."""
    days = int(getattr(settings, "CASE_EXPORT_RETENTION_DAYS", EXPORT_RETENTION_DAYS))
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    pruned = 0
    for export in CaseExport.objects.filter(status=ExportStatus.READY, finished_at__lt=cutoff):
        if export.file:
            export.file.delete(save=False)
        export.status = ExportStatus.EXPIRED
        export.save(update_fields=["file", "status"])
        pruned += 1
    return pruned


# --- reminders ---------------------------------------------------------------------------------------------------

DUE_SOON_DAYS = 1


def case_due_reminders_send(*, today: datetime.date | None = None) -> dict[str, int]:
    """Remind the lead and team of open cases due within a day, and of overdue ones (each once per due date)."""
    today = today or timezone.localdate()
    now = timezone.now()
    counts = {"due_soon": 0, "overdue": 0}
    open_cases = Case.objects.filter(status__in=OPEN_STATUSES).select_related("lead")
    for case in open_cases.filter(due_date__lt=today, overdue_notified_at__isnull=True):
        with transaction.atomic():
            locked = Case.objects.select_for_update(skip_locked=True).filter(
                pk=case.pk, overdue_notified_at__isnull=True
            )
            if not locked.update(overdue_notified_at=now):
                continue
            case_notify(
                case=case,
                users=_people(case).values(),
                event="overdue",
                level="warning",
                text=format_lazy(
                    gettext_lazy("Case #{number} “{title}” is overdue: it was due on {date}."),
                    number=case.pk,
                    title=case.title,
                    date=case.due_date.isoformat(),
                ),
            )
            counts["overdue"] += 1
    window = today + datetime.timedelta(days=DUE_SOON_DAYS)
    for case in open_cases.filter(due_date__gte=today, due_date__lte=window, due_soon_notified_at__isnull=True):
        with transaction.atomic():
            locked = Case.objects.select_for_update(skip_locked=True).filter(
                pk=case.pk, due_soon_notified_at__isnull=True
            )
            if not locked.update(due_soon_notified_at=now):
                continue
            case_notify(
                case=case,
                users=_people(case).values(),
                event="due_soon",
                level="warning",
                text=format_lazy(
                    gettext_lazy("Case #{number} “{title}” is due on {date}."),
                    number=case.pk,
                    title=case.title,
                    date=case.due_date.isoformat(),
                ),
            )
            counts["due_soon"] += 1
    return counts
