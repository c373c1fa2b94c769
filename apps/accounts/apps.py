from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Accounts and organisations")

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.db.models.signals import post_migrate

        from apps.accounts import models, signals  # noqa: F401 - signals registers its receivers
        from apps.accounts.api import schema  # noqa: F401 - registers the OpenAPI authentication extensions
        from apps.accounts.roles import sync_role_groups
        from apps.accounts.tier_defaults import tiers_ensure

        auditlog.register(models.Organization)
        auditlog.register(models.User, exclude_fields=["password", "last_login"])
        auditlog.register(models.Membership)
        auditlog.register(models.ApiKey, exclude_fields=["key_hash"])
        auditlog.register(models.Tier)
        post_migrate.connect(sync_role_groups, sender=self)
        post_migrate.connect(tiers_ensure, sender=self)
