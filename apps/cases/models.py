"""A Case: an investigation an organisation works from anomalies, entities and records to a verdict.

A case moves through ``CaseStatus`` (``apps.cases.services.TRANSITIONS`` says which moves are allowed and who may
make them) and is closed with a ``ClosureClassification``; the verdict goes back to the linked anomalies, which
is what the risk model learns from. Who sees a case is decided by object permissions (django-guardian): its lead
and team hold ``view_case``/``change_case`` on it, supervisors and administrators hold them for the whole
organisation through their role. ``restrict()`` applies both.

Every change is recorded by django-auditlog; the children (notes, tasks, evidence, links, exports) carry their
case's id in the entry's ``additional_data``, so the case's timeline is one query over the log.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import OrganizationScopedModel
from apps.datasets.models import RecordKind


class CasePriority(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    TRIAGE = "triage", _("Triage")
    INVESTIGATING = "investigating", _("Investigating")
    PENDING_REVIEW = "pending_review", _("Pending review")
    CLOSED = "closed", _("Closed")


class ClosureClassification(models.TextChoices):
    CONFIRMED_FRAUD = "confirmed_fraud", _("Confirmed fraud")
    UNFOUNDED = "unfounded", _("Unfounded")
    REFERRED = "referred", _("Referred to another agency")
    DUPLICATE = "duplicate", _("Duplicate")


# Days from opening to the due date by priority: the service level an organisation commits to.
SLA_DAYS = {
    CasePriority.CRITICAL: 3,
    CasePriority.HIGH: 7,
    CasePriority.MEDIUM: 14,
    CasePriority.LOW: 30,
}
OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.TRIAGE, CaseStatus.INVESTIGATING, CaseStatus.PENDING_REVIEW)


class Case(OrganizationScopedModel):
    object_permissions = True

    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    priority = models.CharField(_("priority"), max_length=16, choices=CasePriority.choices, default=CasePriority.MEDIUM)
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.NEW)
    due_date = models.DateField(_("due date"))
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases_led",
        verbose_name=_("lead investigator"),
    )
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="cases", blank=True, verbose_name=_("team"))
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("tags"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("opened by"),
    )
    classification = models.CharField(
        _("closure classification"), max_length=16, choices=ClosureClassification.choices, blank=True
    )
    amount_assessed = models.DecimalField(
        _("amount assessed, UAH"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    closure_reason = models.TextField(_("closure reason"), blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("duplicate of")
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    # When the beat task last reminded the team; cleared when the due date moves, so a new date reminds again.
    due_soon_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    overdue_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [
            ("assign_case", _("Can assign cases to investigators")),
            ("close_case", _("Can close and reopen cases")),
            # Granted on one case through guardian, lets its holder unlock that case's personal data (apps.privacy).
            ("view_pii", _("Can unlock the personal data of the case")),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "due_date"]),
            models.Index(fields=["organization", "-created_at"]),
            GinIndex(fields=["tags"], name="cases_case_tags_gin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="closed") | Q(classification=""), name="cases_case_classified_only_when_closed"
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | ~Q(classification=""), name="cases_case_closed_is_classified"
            ),
            models.CheckConstraint(
                condition=Q(amount_assessed__isnull=True) | Q(amount_assessed__gte=0),
                name="cases_case_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status != CaseStatus.CLOSED

    @property
    def sla_days(self) -> int:
        return SLA_DAYS[CasePriority(self.priority)]

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_date < timezone.localdate()

    @property
    def days_left(self) -> int:
        return (self.due_date - timezone.localdate()).days


def sla_due_date(priority: str, opened: datetime.date | None = None) -> datetime.date:
    return (opened or timezone.localdate()) + datetime.timedelta(days=SLA_DAYS[CasePriority(priority)])


class CaseChild(models.Model):
    """Something that belongs to one case; its audit entries carry the case's id for the timeline."""

    case: models.ForeignKey[Case, Case]
    case_id: int

    class Meta:
        abstract = True

    def get_additional_data(self) -> dict[str, Any]:
        return {"case_id": self.case_id}


class CaseAnomaly(CaseChild):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="anomaly_links", verbose_name=_("case"))
    anomaly = models.ForeignKey(
        "anomalies.Anomaly", on_delete=models.CASCADE, related_name="case_links", verbose_name=_("anomaly")
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("added by")
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("linked anomaly")
        verbose_name_plural = _("linked anomalies")
        constraints = [models.UniqueConstraint(fields=["case", "anomaly"], name="cases_caseanomaly_unique")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.anomaly}"


class CaseEntity(CaseChild):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="entity_links", verbose_name=_("case"))
    entity = models.ForeignKey(
        "entities.Entity", on_delete=models.CASCADE, related_name="case_links", verbose_name=_("entity")
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("added by")
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("linked entity")
        verbose_name_plural = _("linked entities")
        constraints = [models.UniqueConstraint(fields=["case", "entity"], name="cases_caseentity_unique")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.entity}"


class CaseRecord(CaseChild):
    """A record or document of a dataset, named as anomalies name them: its kind and its id in that table.

    Record tables are written by COPY without constraints (``apps.datasets.models.Record``), so the link is by
    value; the service checks the record exists in the case's organisation when it is linked.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="record_links", verbose_name=_("case"))
    kind = models.CharField(_("record kind"), max_length=32, choices=RecordKind.choices)
    record_id = models.BigIntegerField(_("record id"))
    label = models.CharField(_("label"), max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("added by")
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("linked record")
        verbose_name_plural = _("linked records")
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "record_id"], name="cases_caserecord_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.kind}:{self.record_id}"


class CaseNote(CaseChild):
    """A note in Markdown; ``body_html`` is rendered and sanitised once, when the note is written."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes", verbose_name=_("case"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("author")
    )
    body = models.TextField(_("note"))
    body_html = models.TextField(_("note as HTML"), editable=False)
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")

    def __str__(self) -> str:
        return self.body[:60]


class CaseTask(CaseChild):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("case"))
    title = models.CharField(_("task"), max_length=300)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="case_tasks",
        verbose_name=_("assignee"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["done_at", "due_date", "id"]
        verbose_name = _("case task")
        verbose_name_plural = _("case tasks")

    def __str__(self) -> str:
        return self.title


class CaseEvidence(CaseChild):
    """A file added to a case, kept in storage with the SHA-256 of its content as received."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("case"))
    file = models.FileField(_("file"), upload_to="cases/evidence/%Y/%m/", max_length=500)
    original_filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("added by")
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    def __str__(self) -> str:
        return self.original_filename


class ExportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    XLSX = "xlsx", "XLSX"
    CSV = "csv", "CSV"
    PPTX = "pptx", "PPTX"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    # The file was deleted after the retention period (``case_exports_prune``); the row stays as the record.
    EXPIRED = "expired", _("Expired")


class CaseExport(CaseChild):
    """A case report file, built by a Celery task; downloaded through a signed link that expires."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exports", verbose_name=_("case"))
    fmt = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    status = models.CharField(_("status"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    # Decided when the export is requested: the requester held export_pii and had unlocked the case. The tokens
    # are those the unlock disclosed (the PIIDisclosure record's), the only ones the report may show in clear.
    pii_unmasked = models.BooleanField(_("personal data unmasked"), default=False)
    pii_tokens = models.JSONField(_("disclosed tokens"), default=list, blank=True, editable=False)
    # The requester's language: the report is written in it by a worker that has no request.
    language = models.CharField(_("language"), max_length=8, blank=True)
    file = models.FileField(_("file"), upload_to="cases/exports/%Y/%m/", max_length=500, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("requested by")
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("case report")
        verbose_name_plural = _("case reports")

    def __str__(self) -> str:
        return f"{self.case_id}.{self.fmt}"
