from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.querysets import RestrictedManager


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class OrganizationScopedModel(TimeStampedModel):
    """A row that belongs to one organisation; ``restrict()`` never lets it cross to another."""

    organization_field = "organization"
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )

    objects = RestrictedManager()

    class Meta:
        abstract = True


class HealthCheck(models.Model):
    """The result of one periodic service check, written by a Celery worker."""

    class Status(models.TextChoices):
        OK = "ok", _("OK")
        FAILING = "failing", _("Failing")

    checked_at = models.DateTimeField(_("checked at"), auto_now_add=True, db_index=True)
    worker = models.CharField(_("worker"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    details = models.JSONField(_("details"), default=dict)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))

    class Meta:
        ordering = ["-checked_at"]
        verbose_name = _("health check")
        verbose_name_plural = _("health checks")

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M:%S} {self.worker} {self.status}"
