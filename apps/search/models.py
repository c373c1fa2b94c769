"""Saved searches: a query an investigator keeps, re-run when new data arrives, with the hits already reported.

The search indexes themselves live in the record tables (generated ``search_vector`` columns, migration 0002), in
OpenSearch and in Qdrant; nothing here duplicates a record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import OrganizationScopedModel


class SavedSearch(OrganizationScopedModel):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=200)
    # The search form's parameters (q, kinds, dates, facets, mode) as the page and the API take them.
    params = models.JSONField(_("parameters"), default=dict)
    notify = models.BooleanField(_("notify me of new results"), default=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    # "kind:id" of every hit already reported, so a re-run announces only what is new.
    seen_hits = models.JSONField(_("results already reported"), default=list, blank=True)
    last_new_hits = models.PositiveIntegerField(_("new results at the last run"), default=0)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="search_savedsearch_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
