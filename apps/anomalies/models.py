"""An Anomaly: one finding of a detector about some records and entities, with why it was raised.

Every detector (unit value against peers, split shipments, VAT carousel, watchlist hits…) writes the same row
through ``apps.anomalies.services.anomaly_raise``. ``explanation`` is stored ready to read in both languages at
the moment the anomaly is raised (``{"en": str, "uk": str, "factors": [...]}``): the feed, the API and the case
report show it without knowing the detector, and the wording stays the one the investigator acted on even if
the detector's wording changes later. ``factors`` keeps the same reasons as data, one per feature:
``{"feature", "value", "peer", "contribution"}``.

Titles and explanations never carry a clear personal value: a person is named by its masking token.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import OrganizationScopedModel


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class AnomalyStatus(models.TextChoices):
    NEW = "new", _("New")
    CONFIRMED = "confirmed", _("Confirmed")
    DISMISSED = "dismissed", _("Dismissed")
    IN_CASE = "in_case", _("In a case")


class Anomaly(OrganizationScopedModel):
    detector = models.SlugField(_("detector"), max_length=64)
    score = models.FloatField(_("score"))
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    title = models.CharField(_("title"), max_length=500)
    explanation = models.JSONField(_("explanation"))
    entities = models.ManyToManyField(
        "entities.Entity", related_name="anomalies", blank=True, verbose_name=_("entities")
    )
    # [{"kind": a RecordKind, "id": the record's id}, …]
    records = models.JSONField(_("records"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=AnomalyStatus.choices, default=AnomalyStatus.NEW)
    status_reason = models.TextField(_("reason"), blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("status changed by"),
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # What makes two findings the same one (the detector's choice); raising it again returns the first.
    dedup_key = models.CharField(_("deduplication key"), max_length=255)

    class Meta:
        verbose_name = _("anomaly")
        verbose_name_plural = _("anomalies")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "dedup_key"], name="anomalies_anomaly_dedup_unique"),
            models.CheckConstraint(condition=Q(score__gte=0.0, score__lte=1.0), name="anomalies_anomaly_score_range"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["organization", "status", "-created_at"]),
            models.Index(fields=["organization", "detector", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.title
