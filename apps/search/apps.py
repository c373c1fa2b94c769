from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

SAVED_SEARCH_PERMISSIONS = {
    "search.view_savedsearch",
    "search.add_savedsearch",
    "search.change_savedsearch",
    "search.delete_savedsearch",
}


class SearchConfig(AppConfig):
    name = "apps.search"
    label = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.accounts.choices import Role
        from apps.accounts.roles import ROLE_PERMISSIONS
        from apps.datasets.hooks import register_post_load
        from apps.search.models import SavedSearch
        from apps.search.tasks import search_index_dataset_hook

        # Whoever reads records may keep searches over them; a partner reads no records.
        for role in (Role.INVESTIGATOR, Role.SUPERVISOR, Role.ADMIN):
            ROLE_PERMISSIONS[role] |= SAVED_SEARCH_PERMISSIONS
        auditlog.register(SavedSearch, include_fields=["name", "params", "notify"])
        register_post_load("search.index", search_index_dataset_hook)
