"""Roles and the Django groups that carry their permissions.

Each role is a group of the same name. The groups are rebuilt from this table
after every migration, so a permission added here reaches every user of the
role. Later apps extend ``ROLE_PERMISSIONS`` with their own models' codenames.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Q

from apps.accounts.choices import Role

# Uploading, mapping and retrying datasets, and reading the loaded records. Partners get none of it: a partner
# integrates on entities, anomalies and cases, and a system that delivers files uses an API key issued for an
# investigator's account.
DATASET_WORK_PERMISSIONS = {
    "datasets.view_dataset",
    "datasets.add_dataset",
    "datasets.change_dataset",
    "datasets.view_columnmapping",
    "datasets.add_columnmapping",
    "datasets.change_columnmapping",
    "datasets.view_customsdeclaration",
    "datasets.view_taxinvoice",
    "datasets.view_registrycompany",
    "datasets.view_registryperson",
    "datasets.view_telegrammessage",
    "datasets.view_document",
}

# Exploring the entity graph, reviewing matches, merging and splitting, screening against watchlists, and the
# anomalies raised on entities.
ENTITY_WORK_PERMISSIONS = {
    "entities.view_entity",
    "entities.change_entity",
    "entities.view_entityname",
    "entities.view_entityidentifier",
    "entities.view_entitymention",
    "entities.view_relationship",
    "entities.view_matchcandidate",
    "entities.change_matchcandidate",
    "entities.view_entitymerge",
    "entities.view_graphcycle",
    "entities.view_graphanalysis",
    "entities.view_watchlist",
    "entities.add_watchlist",
    "entities.change_watchlist",
    "entities.view_watchlisthit",
    "anomalies.view_anomaly",
}

# "app_label.codename" per role. Object permissions (django-guardian) come on top of these.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.INVESTIGATOR: {
        "accounts.view_organization",
        "accounts.view_membership",
        "accounts.view_user",
        *DATASET_WORK_PERMISSIONS,
        *ENTITY_WORK_PERMISSIONS,
    },
    Role.SUPERVISOR: {
        "accounts.view_organization",
        "accounts.view_membership",
        "accounts.view_user",
        "accounts.view_pii",
        *DATASET_WORK_PERMISSIONS,
        *ENTITY_WORK_PERMISSIONS,
    },
    Role.ADMIN: {
        "accounts.view_organization",
        "accounts.view_membership",
        "accounts.add_membership",
        "accounts.change_membership",
        "accounts.delete_membership",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_apikey",
        "accounts.add_apikey",
        "accounts.change_apikey",
        "accounts.view_pii",
        "accounts.export_pii",
        "privacy.view_piidisclosure",
        "core.view_healthcheck",
        *DATASET_WORK_PERMISSIONS,
        *ENTITY_WORK_PERMISSIONS,
        "datasets.view_datasetrun",
        "datasets.view_quarantinedrow",
        "datasets.delete_columnmapping",
    },
    # A partner reads entities, their links and the anomalies raised on them, never the records behind them.
    Role.PARTNER: {
        "accounts.view_organization",
        "entities.view_entity",
        "entities.view_relationship",
        "anomalies.view_anomaly",
    },
}


def role_permissions(role: str) -> list[Permission]:
    """The permissions of ``role``; a name in ``ROLE_PERMISSIONS`` that matches none is a configuration error."""
    names = ROLE_PERMISSIONS[role]
    if not names:
        return []
    query = Q()
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.filter(query).select_related("content_type"))
    missing = names - {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
    if missing:
        raise ImproperlyConfigured(f"ROLE_PERMISSIONS[{role!r}] names unknown permissions: {sorted(missing)}")
    return permissions


def sync_role_groups(using: str = DEFAULT_DB_ALIAS, **_kwargs: Any) -> None:
    """Create one group per role and give it exactly the permissions of ``ROLE_PERMISSIONS``."""
    # post_migrate reaches accounts before the apps listed after it have their permissions; create them all first.
    for app_config in django_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    for role in Role:
        group, _created = Group.objects.using(using).get_or_create(name=role.value)
        group.permissions.set(role_permissions(role))
