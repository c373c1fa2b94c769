from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "apps.privacy"
    label = "privacy"
    verbose_name = _("Personal data")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.privacy import models
        from apps.privacy.targets import register_default_providers

        auditlog.register(models.PIIDisclosure)
        register_default_providers()
