from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EntitiesConfig(AppConfig):
    name = "apps.entities"
    label = "entities"
    verbose_name = _("Entities and the graph")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.datasets.hooks import register_post_load
        from apps.entities import models
        from apps.entities.tasks import entities_resolve_dataset_hook

        auditlog.register(models.Entity, include_fields=["name", "kind", "merged_into"])
        auditlog.register(models.MatchCandidate, include_fields=["status", "decided_by", "reason"])
        auditlog.register(models.EntityMerge)
        auditlog.register(models.Watchlist)
        register_post_load("entities.resolve", entities_resolve_dataset_hook)
