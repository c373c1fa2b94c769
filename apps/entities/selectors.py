"""Reads on the entity graph for the pages, the review queue, the graph view and the partner API.

Entities are read through ``Entity.objects.restrict(user, "view")``; the tables without an organisation manager
(mentions, relationships, names, identifiers) are read only for an entity that came through it, filtered on that
entity's organisation, and only when the user holds the model's view permission. Personal values are masking
tokens everywhere here, and nothing reads the privacy vault.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.text import capfirst

from apps.anomalies.models import Anomaly
from apps.datasets.models import RECORD_MODELS, RecordKind
from apps.datasets.selectors import record_list
from apps.entities.graph import Neighbourhood, entity_neighbourhood
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityMention,
    EntityMerge,
    EntityName,
    MatchCandidate,
    Relationship,
)
from apps.entities.normalize import company_key

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User

    AnyUser = User | AnonymousUser

TIMELINE_PAGE_SIZE = 20
MERGE_CHOICES = 20
# Entity numbers are bigints: a longer run of digits is an identifier, never a number.
MAX_ENTITY_NUMBER_DIGITS = 18
RELATED_PAGE_SIZE = 25
ANOMALY_LIMIT = 20
# A chain of merges longer than this is a data error, not a history to follow.
MAX_MERGE_DEPTH = 50

# The attributes the resolver keeps from the records that an entity's profile shows, in order; the rest (a
# person's tax numbers, already identifiers) stay internal.
PROFILE_ATTRIBUTES = (
    "short_name",
    "legal_form",
    "status",
    "registration_date",
    "address",
    "activity_codes",
    "authorized_capital_uah",
    "birth_dates",
    "addresses",
    "companies",
)

# ``ordering`` of the entity list → the ORDER BY it means; the first is the default.
ENTITY_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "records": ("-mention_count", "id"),
    "degree": ("-degree", "id"),
    "pagerank": ("-pagerank", "id"),
    "last_seen": (F("last_seen").desc(nulls_last=True), "id"),
    "name": ("name", "id"),
}

# What the timeline says about a record: fields that identify it and its value, none of them a clear personal
# value (personal fields of the records hold tokens; a Telegram message's text is left out because names in free
# text are not masked).
RECORD_SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    RecordKind.CUSTOMS_DECLARATION: ("declaration_number", "direction", "goods_code", "customs_value_uah"),
    RecordKind.TAX_INVOICE: ("invoice_number", "goods_code", "amount_uah", "total_uah"),
    RecordKind.REGISTRY_COMPANY: ("row_number", "code", "legal_form", "status"),
    RecordKind.REGISTRY_PERSON: ("row_number", "record_number", "source_name", "roles"),
    RecordKind.TELEGRAM_MESSAGE: ("channel", "message_id"),
    RecordKind.DOCUMENT: ("filename", "page_count"),
}


def _may(user: AnyUser, permission: str) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission))


# --- entities --------------------------------------------------------------------------------------------------


def entity_list(
    *, user: AnyUser, q: str = "", kind: str = "", country: str = "", ordering: str = ""
) -> QuerySet[Entity]:
    """The entities the user may see, merged ones left out, searched, filtered and ordered.

    ``q`` matches a part of the name as stored, a company name in any spelling the resolver folds together (the
    trigram index on ``EntityName.match_key``), or an identifier exactly (an ЄДРПОУ, an IBAN). A person's name and
    personal identifiers (РНОКПП, phone) are stored only as masking tokens: typed in clear they find nothing,
    on purpose — a search must not become a way to test whether someone's data is held. Their tokens are
    searchable.
    """
    entities = Entity.objects.restrict(user, "view").filter(merged_into__isnull=True)
    if kind:
        entities = entities.filter(kind=kind)
    if country:
        entities = entities.filter(country=country)
    query = q.strip()
    if query:
        entities = entities.filter(_search(query))
    return entities.order_by(*ENTITY_ORDERINGS.get(ordering, ENTITY_ORDERINGS["records"]))


def _search(query: str) -> Q:
    compact = "".join(query.split()).upper()
    identifiers = EntityIdentifier.objects.filter(entity=OuterRef("pk"), value__in={query, compact})
    condition = Q(name__icontains=query) | Q(Exists(identifiers))
    key = company_key(query)
    if key:
        names = EntityName.objects.filter(entity=OuterRef("pk")).filter(
            Q(match_key__icontains=key) | Q(match_key__trigram_similar=key)
        )
        condition |= Q(Exists(names))
    return condition


def entity_get(*, user: AnyUser, pk: int) -> Entity:
    """The entity if the user may see it; ``Entity.DoesNotExist`` otherwise (another organisation's too)."""
    return Entity.objects.restrict(user, "view").get(pk=pk)


def entity_survivor(*, user: AnyUser, entity: Entity) -> Entity:
    """Where an absorbed entity lives on: the end of its ``merged_into`` chain (the entity itself if not merged)."""
    entities = Entity.objects.restrict(user, "view")
    seen = {entity.pk}
    while entity.merged_into_id is not None and len(seen) <= MAX_MERGE_DEPTH:
        survivor = entities.filter(pk=entity.merged_into_id).first()
        if survivor is None or survivor.pk in seen:
            break
        seen.add(survivor.pk)
        entity = survivor
    return entity


def entity_attributes(entity: Entity) -> dict[str, list[str]]:
    """What the registers say about the entity (``PROFILE_ATTRIBUTES``, in that order), each as a list of values;
    a person's are masking tokens."""
    stored = entity.attributes if isinstance(entity.attributes, dict) else {}
    attributes = {}
    for name in PROFILE_ATTRIBUTES:
        value = stored.get(name)
        values = [str(item) for item in value if item] if isinstance(value, list) else [str(value or "")]
        if values := [item for item in values if item]:
            attributes[name] = values
    return attributes


def entity_names(*, user: AnyUser, entity: Entity) -> QuerySet[EntityName]:
    """The spellings the records use for the entity, the most common first (tokens for a person)."""
    if not _may(user, "entities.view_entityname"):
        return EntityName.objects.none()
    return EntityName.objects.filter(organization_id=entity.organization_id, entity=entity).order_by(
        "-mention_count", "name"
    )


def entity_identifiers(*, user: AnyUser, entity: Entity) -> QuerySet[EntityIdentifier]:
    if not _may(user, "entities.view_entityidentifier"):
        return EntityIdentifier.objects.none()
    return EntityIdentifier.objects.filter(organization_id=entity.organization_id, entity=entity).order_by(
        "scheme", "value"
    )


def entity_anomalies(*, user: AnyUser, entity: Entity) -> list[Anomaly]:
    """The latest anomalies raised on the entity, newest first."""
    return list(Anomaly.objects.restrict(user, "view").filter(entities=entity)[:ANOMALY_LIMIT])


# The entity and the entities merged into it, directly or through others, in one query.
_ABSORBED_TREE_SQL = f"""
WITH RECURSIVE tree(id, depth) AS (
    SELECT %s::bigint, 0
    UNION
    SELECT e.id, tree.depth + 1 FROM {Entity._meta.db_table} e JOIN tree ON e.merged_into_id = tree.id
    WHERE tree.depth < %s
)
SELECT id FROM tree
"""  # noqa: S608 - the table name is a constant


def entity_merges(*, user: AnyUser, entity: Entity) -> QuerySet[EntityMerge]:
    """Every merge the entity took part in, as survivor or absorbed, and every merge into an entity folded into it
    (directly or through others), split ones included; latest first."""
    tree = RawSQL(_ABSORBED_TREE_SQL, [entity.pk, MAX_MERGE_DEPTH])  # noqa: S611 - constant SQL, parameters bound
    return (
        EntityMerge.objects.restrict(user, "view")
        .filter(Q(survivor_id__in=tree) | Q(absorbed=entity))
        .select_related("survivor", "absorbed", "merged_by", "split_by")
    )


def entity_merge_choices(*, user: AnyUser, entity: Entity, q: str) -> list[Entity]:
    """The entities a search offers to merge into ``entity``: its number, or what the entity list's search finds;
    never the entity itself, at most ``MERGE_CHOICES``."""
    query = q.strip()
    if not query:
        return []
    condition = _search(query)
    if query.isdigit() and len(query) <= MAX_ENTITY_NUMBER_DIGITS:
        condition |= Q(pk=int(query))
    found = Entity.objects.restrict(user, "view").filter(merged_into__isnull=True).filter(condition)
    return list(found.exclude(pk=entity.pk).order_by(*ENTITY_ORDERINGS["records"])[:MERGE_CHOICES])


# --- review ----------------------------------------------------------------------------------------------------


def match_candidate_list(*, user: AnyUser, action: str = "view") -> QuerySet[MatchCandidate]:
    """The organisation's match candidates the user may ``action``, the highest score first, with both entities."""
    return (
        MatchCandidate.objects.restrict(user, action)
        .select_related("left", "right", "decided_by")
        .order_by("-score", "id")
    )


# --- timeline --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordDetail:
    label: str
    value: Any


@dataclass(frozen=True)
class TimelineEntry:
    mention: EntityMention
    record_label: str
    # Empty when the record cannot be read (its dataset is being reloaded, or the user may not read records).
    details: list[RecordDetail]


@dataclass(frozen=True)
class Timeline:
    page: Page[EntityMention]
    entries: list[TimelineEntry]


def entity_mentions(*, user: AnyUser, entity: Entity) -> QuerySet[EntityMention]:
    """The mentions of the records that name the entity (its own and those of every entity merged into it),
    latest first, each with its dataset."""
    if not _may(user, "entities.view_entitymention"):
        return EntityMention.objects.none()
    return (
        EntityMention.objects.filter(organization_id=entity.organization_id, entity=entity)
        .select_related("dataset")
        .order_by(F("date").desc(nulls_last=True), "-id")
    )


def entity_timeline(*, user: AnyUser, entity: Entity, page: int | str | None) -> Timeline:
    """The records that name the entity, latest first, a page at a time, each with a short summary."""
    page_obj = Paginator(entity_mentions(user=user, entity=entity), TIMELINE_PAGE_SIZE).get_page(page)
    summaries = _record_summaries(user, page_obj.object_list)
    entries = [
        TimelineEntry(
            mention=mention,
            record_label=_record_label(mention.record_kind),
            details=summaries.get((mention.record_kind, mention.record_id), []),
        )
        for mention in page_obj.object_list
    ]
    return Timeline(page=page_obj, entries=entries)


def _record_summaries(user: AnyUser, mentions: Iterable[EntityMention]) -> dict[tuple[str, int], list[RecordDetail]]:
    """One query per record kind on the page, through the records' own ``restrict()``."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for mention in mentions:
        if mention.record_kind in RECORD_SUMMARY_FIELDS:
            wanted[mention.record_kind].add(mention.record_id)
    summaries: dict[tuple[str, int], list[RecordDetail]] = {}
    for kind, ids in wanted.items():
        fields = RECORD_SUMMARY_FIELDS[kind]
        for record in record_list(user=user, kind=kind).filter(pk__in=ids).only(*fields):
            summaries[(kind, record.pk)] = _details(record, fields)
    return summaries


def _record_label(kind: str) -> str:
    """The singular name of a record kind: "Customs declaration"."""
    model = RECORD_MODELS.get(kind)
    return capfirst(str(model._meta.verbose_name)) if model is not None else kind


def _details(record: Any, fields: Sequence[str]) -> list[RecordDetail]:
    details = []
    for name in fields:
        field = type(record)._meta.get_field(name)
        value = getattr(record, name)
        if value is None or value == "":
            continue
        if getattr(field, "choices", None):
            value = getattr(record, f"get_{name}_display")()
        details.append(RecordDetail(label=capfirst(str(field.verbose_name)), value=value))
    return details


# --- relationships and the graph -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelatedEntity:
    relationship: Relationship
    other: Entity
    # True when the entity is the relationship's source ("director of" the other), False when it is the target.
    outgoing: bool


def entity_relationships(*, user: AnyUser, entity: Entity, kind: str = "") -> QuerySet[Relationship]:
    """The entity's relationships in both directions, the ones backed by most records first."""
    if not _may(user, "entities.view_relationship"):
        return Relationship.objects.none()
    relationships = Relationship.objects.filter(organization_id=entity.organization_id).filter(
        Q(source=entity) | Q(target=entity)
    )
    if kind:
        relationships = relationships.filter(kind=kind)
    return relationships.select_related("source", "target").order_by("-record_count", "kind", "id")


@dataclass(frozen=True)
class Related:
    page: Page[Relationship]
    rows: list[RelatedEntity]


def entity_related(*, user: AnyUser, entity: Entity, kind: str = "", page: int | str | None = None) -> Related:
    """A page of the entity's relationships, each with the entity at its other end."""
    page_obj = Paginator(entity_relationships(user=user, entity=entity, kind=kind), RELATED_PAGE_SIZE).get_page(page)
    rows = [
        RelatedEntity(
            relationship=relationship,
            other=relationship.target if relationship.source_id == entity.pk else relationship.source,
            outgoing=relationship.source_id == entity.pk,
        )
        for relationship in page_obj.object_list
    ]
    return Related(page=page_obj, rows=rows)


def entity_graph(
    *,
    entity: Entity,
    hops: int,
    kinds: Collection[str] | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> Neighbourhood:
    """The neighbourhood of an entity the caller read through ``entity_get``, within its organisation.

    The caller checks ``entities.view_relationship``: the graph is made of relationships.
    """
    return entity_neighbourhood(
        organization_id=entity.organization_id,
        entity_id=entity.pk,
        hops=hops,
        kinds=kinds,
        date_from=date_from,
        date_to=date_to,
    )
