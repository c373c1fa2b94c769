from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# What each role does with anomalies and the model registry, on top of apps.accounts.roles.
ANOMALY_WORK_PERMISSIONS = {"anomalies.view_anomaly", "anomalies.change_anomaly"}
MODEL_PERMISSIONS = {
    "anomalies.view_mlmodel",
    "anomalies.add_mlmodel",
    "anomalies.change_mlmodel",
    "anomalies.view_driftalert",
}
ADMIN_PERMISSIONS = {
    "anomalies.view_detectorconfig",
    "anomalies.change_detectorconfig",
    "anomalies.view_mirrorstatistic",
}


class AnomaliesConfig(AppConfig):
    name = "apps.anomalies"
    label = "anomalies"
    verbose_name = _("Anomalies and risk")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.accounts.choices import Role
        from apps.accounts.roles import ROLE_PERMISSIONS
        from apps.anomalies import models
        from apps.anomalies.tasks import anomalies_detect_dataset_hook
        from apps.datasets.hooks import register_post_load

        # The findings themselves are written by detectors in bulk; what people decide about them is the record.
        auditlog.register(
            models.Anomaly, include_fields=["status", "status_reason", "status_changed_by", "status_changed_at"]
        )
        auditlog.register(models.DetectorConfig)
        auditlog.register(models.MLModel, include_fields=["status", "promoted_by", "promoted_at"])
        ROLE_PERMISSIONS[Role.INVESTIGATOR] |= ANOMALY_WORK_PERMISSIONS | {"anomalies.view_driftalert"}
        ROLE_PERMISSIONS[Role.SUPERVISOR] |= ANOMALY_WORK_PERMISSIONS | MODEL_PERMISSIONS
        ROLE_PERMISSIONS[Role.ADMIN] |= ANOMALY_WORK_PERMISSIONS | MODEL_PERMISSIONS | ADMIN_PERMISSIONS
        # Registered after entity resolution (INSTALLED_APPS order), so findings can name the resolved entities.
        register_post_load("anomalies.detect", anomalies_detect_dataset_hook)
