from __future__ import annotations

from django.contrib import admin

from apps.search.models import SavedSearch


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin[SavedSearch]):
    list_display = ["name", "owner", "organization", "notify", "last_run_at", "last_new_hits"]
    list_filter = ["notify", "organization"]
    search_fields = ["name", "owner__username"]
    # The hits already reported are the owner's working state, not something to edit by hand.
    readonly_fields = ["last_run_at", "seen_hits", "last_new_hits"]
    raw_id_fields = ["owner"]
