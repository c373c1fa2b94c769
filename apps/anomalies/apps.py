from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnomaliesConfig(AppConfig):
    name = "apps.anomalies"
    label = "anomalies"
    verbose_name = _("Anomalies and risk")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.anomalies import models

        # The findings themselves are written by detectors in bulk; what people decide about them is the record.
        auditlog.register(
            models.Anomaly, include_fields=["status", "status_reason", "status_changed_by", "status_changed_at"]
        )
