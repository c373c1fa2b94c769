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
    # Where and when, for the feed's filters; blank when the finding is about entities rather than declarations.
    goods_chapter = models.CharField(_("goods chapter"), max_length=2, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    customs_office_code = models.CharField(_("customs office code"), max_length=16, blank=True)
    occurred_on = models.DateField(_("date"), null=True, blank=True)

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


class DetectorConfig(OrganizationScopedModel):
    """An organisation's settings of one registered detector (``apps.anomalies.detectors``), edited in admin.

    ``params`` overrides the detector's defaults key by key; a key the detector does not know is refused.
    """

    name = models.SlugField(_("detector"), max_length=64)
    enabled = models.BooleanField(_("enabled"), default=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("detector setting")
        verbose_name_plural = _("detector settings")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="anomalies_detectorconfig_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelKind(models.TextChoices):
    RISK = "risk", _("Declaration risk (gradient boosting)")


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", _("Candidate")
    DEPLOYED = "deployed", _("Deployed")
    RETIRED = "retired", _("Retired")


class MLModel(OrganizationScopedModel):
    """One trained model in the registry: what it learned from, how it scored on the held-out period, its file.

    ``metrics`` holds the validation figures on the most recent held-out period (``auc``, ``precision@5`` …,
    ``curve``: one point per inspected percent) and, once compared, ``comparison`` with the deployed model's
    figures on the same period. At most one model of a kind is deployed per organisation.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=ModelKind.choices, default=ModelKind.RISK)
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE, db_index=True
    )
    dataset = models.ForeignKey(
        "datasets.Dataset",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("trained on dataset"),
        help_text=_("Empty: every customs declaration of the organisation."),
    )
    train_from = models.DateField(_("training from"))
    train_to = models.DateField(_("training to"))
    test_from = models.DateField(_("held-out period from"))
    test_to = models.DateField(_("held-out period to"))
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    artefact = models.FileField(_("model file"), upload_to="anomalies/models/", max_length=500, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("trained by"),
    )
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("promoted by"),
    )
    promoted_at = models.DateTimeField(_("promoted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("model")
        verbose_name_plural = _("model registry")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "version"], name="anomalies_mlmodel_version"),
            models.UniqueConstraint(
                fields=["organization", "kind"],
                condition=Q(status="deployed"),
                name="anomalies_mlmodel_one_deployed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version} ({self.get_status_display()})"


class DriftAlert(OrganizationScopedModel):
    """The deployed model's precision on cases labelled since it was validated fell too far below validation."""

    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="drift_alerts")
    validation_precision = models.FloatField(_("precision at validation"))
    recent_precision = models.FloatField(_("precision on new labels"))
    labelled = models.PositiveIntegerField(_("newly labelled declarations"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("drift alert")
        verbose_name_plural = _("drift alerts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model} {self.recent_precision:.2f} < {self.validation_precision:.2f}"


class MirrorStatistic(OrganizationScopedModel):
    """A partner country's reported exports to Ukraine for one HS6 subheading and month (mirror statistics)."""

    country = models.CharField(_("partner country"), max_length=2)
    hs6 = models.CharField(_("HS6 code"), max_length=6)
    month = models.DateField(_("month"))
    partner_usd = models.DecimalField(
        _("exports to Ukraine reported by the partner, USD"), max_digits=20, decimal_places=2
    )

    class Meta:
        verbose_name = _("mirror statistic")
        verbose_name_plural = _("mirror statistics")
        constraints = [
            models.UniqueConstraint(fields=["organization", "country", "hs6", "month"], name="anomalies_mirror_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.hs6} {self.month:%Y-%m}"
