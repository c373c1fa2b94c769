"""Writes on the entity graph: merges, splits and review decisions. Each one audited (django-auditlog records the
entity and candidate changes; ``EntityMerge`` keeps who merged what and why) and each keeps the graph consistent:
mentions follow the surviving entity and the relationships of both sides are rebuilt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import DomainError
from apps.entities.models import (
    Entity,
    EntityKind,
    EntityMention,
    EntityMerge,
    MatchCandidate,
    MatchMethod,
    ScorerKind,
)
from apps.entities.resolution import entities_refresh, entity_roots, relationships_rebuild

if TYPE_CHECKING:
    from apps.accounts.models import User

# Kinds that may be merged with each other: a company that also acts as a broker is one entity.
_MERGEABLE: dict[str, set[str]] = {
    EntityKind.COMPANY: {EntityKind.COMPANY, EntityKind.BROKER},
    EntityKind.BROKER: {EntityKind.COMPANY},
}


def _scorer_kind(entity: Entity) -> str:
    return ScorerKind.PERSON if entity.kind == EntityKind.PERSON else ScorerKind.COMPANY


@transaction.atomic
def entity_merge(
    *,
    survivor: Entity,
    absorbed: Entity,
    actor: User | None,
    method: str = MatchMethod.MANUAL,
    score: float | None = None,
    candidate: MatchCandidate | None = None,
    reason: str = "",
) -> EntityMerge:
    """Fold ``absorbed`` into ``survivor``: its records, names and identifiers count for the survivor from now on."""
    # Both rows locked in id order, so two opposite merges at once wait for each other instead of deadlocking.
    locked = {
        entity.pk: entity
        for entity in Entity.objects.select_for_update().filter(pk__in=[survivor.pk, absorbed.pk]).order_by("pk")
    }
    survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]
    if survivor.pk == absorbed.pk:
        raise DomainError(_("An entity cannot be merged with itself."))
    if survivor.organization_id != absorbed.organization_id:
        raise DomainError(_("Entities of different organisations cannot be merged."))
    if survivor.merged_into_id is not None or absorbed.merged_into_id is not None:
        raise DomainError(_("One of these entities has already been merged into another; merge into that one."))
    if absorbed.kind != survivor.kind and absorbed.kind not in _MERGEABLE.get(survivor.kind, set()):
        raise DomainError(
            _("A %(absorbed)s cannot be merged into a %(survivor)s.")
            % {"absorbed": absorbed.get_kind_display().lower(), "survivor": survivor.get_kind_display().lower()}
        )
    absorbed.merged_into = survivor
    absorbed.save(update_fields=["merged_into", "updated_at"])
    EntityMention.objects.filter(entity_id=absorbed.pk).update(entity_id=survivor.pk)
    merge = EntityMerge.objects.create(
        organization_id=survivor.organization_id,
        survivor=survivor,
        absorbed=absorbed,
        method=method,
        score=score,
        candidate=candidate,
        merged_by=actor,
        reason=reason,
    )
    MatchCandidate.objects.filter(
        left_id=min(survivor.pk, absorbed.pk), right_id=max(survivor.pk, absorbed.pk), status="pending"
    ).exclude(pk=candidate.pk if candidate else None).delete()
    entities_refresh(entity_ids=[survivor.pk, absorbed.pk])
    relationships_rebuild(organization_id=survivor.organization_id, entity_ids=[survivor.pk, absorbed.pk])
    return merge


@transaction.atomic
def entities_merge_found(*, organization_id: int, merges: list[tuple[int, int, float]]) -> int:
    """Merges resolution found (``(survivor, absorbed, score)``), applied together: one update of the mentions and
    one rebuild of the relationships of every entity involved, instead of one of each per merge. Each merge is an
    ``EntityMerge`` row without an actor (the resolver's); a pair where either side is no longer a root is skipped.
    """
    if not merges:
        return 0
    ids = {entity_id for survivor, absorbed, _ in merges for entity_id in (survivor, absorbed)}
    roots = set(
        Entity.objects.select_for_update()
        .filter(pk__in=ids, organization_id=organization_id, merged_into__isnull=True)
        .values_list("pk", flat=True)
    )
    applied = [(s, a, score) for s, a, score in merges if s in roots and a in roots and s != a]
    absorbed_ids = {absorbed for _, absorbed, _ in applied}
    applied = [(s, a, score) for s, a, score in applied if s not in absorbed_ids]
    if not applied:
        return 0
    survivors = [survivor for survivor, _, _ in applied]
    absorbed = [absorbed for _, absorbed, _ in applied]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE entities_entity e SET merged_into_id = m.survivor, updated_at = now()"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS m(survivor, absorbed) WHERE e.id = m.absorbed",
            [survivors, absorbed],
        )
        cursor.execute(
            "UPDATE entities_entitymention t SET entity_id = m.survivor"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS m(survivor, absorbed) WHERE t.entity_id = m.absorbed",
            [survivors, absorbed],
        )
    EntityMerge.objects.bulk_create(
        [
            EntityMerge(
                organization_id=organization_id,
                survivor_id=survivor,
                absorbed_id=absorbed_id,
                method=MatchMethod.FUZZY,
                score=score,
            )
            for survivor, absorbed_id, score in applied
        ]
    )
    touched = set(survivors) | set(absorbed)
    entities_refresh(entity_ids=touched)
    relationships_rebuild(organization_id=organization_id, entity_ids=touched)
    return len(applied)


def _absorbed_tree(entity_id: int) -> list[int]:
    """The entity and every entity merged into it, directly or through others."""
    tree = [entity_id]
    frontier = [entity_id]
    while frontier:
        frontier = list(Entity.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True))
        tree.extend(frontier)
    return tree


@transaction.atomic
def entity_split(*, merge: EntityMerge, actor: User, reason: str) -> Entity:
    """Undo a merge: the absorbed entity stands alone again with the records first resolved to it (and to what was
    merged into it), and the pair is remembered as different so resolution never merges it again."""
    merge = EntityMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.split_at is not None:
        raise DomainError(_("This merge has already been split."))
    if not reason.strip():
        raise DomainError(_("Say why the merge was wrong."))
    absorbed = Entity.objects.select_for_update().get(pk=merge.absorbed_id)
    if absorbed.merged_into_id != merge.survivor_id:
        raise DomainError(_("The entities of this merge have changed since; split the later merge first."))
    survivor_root_id = entity_roots([merge.survivor_id])[merge.survivor_id]
    absorbed.merged_into = None
    absorbed.save(update_fields=["merged_into", "updated_at"])
    EntityMention.objects.filter(
        ~Q(origin_entity=F("entity")), origin_entity_id__in=_absorbed_tree(absorbed.pk)
    ).update(entity_id=absorbed.pk)
    merge.split_at = timezone.now()
    merge.split_by = actor
    merge.split_reason = reason
    merge.save(update_fields=["split_at", "split_by", "split_reason", "updated_at"])
    left, right = sorted((merge.survivor_id, absorbed.pk))
    MatchCandidate.objects.update_or_create(
        left_id=left,
        right_id=right,
        defaults={
            "organization_id": absorbed.organization_id,
            "status": MatchCandidate.Status.REJECTED,
            "decided_by": actor,
            "decided_at": merge.split_at,
            "reason": reason,
        },
        create_defaults={
            "organization_id": absorbed.organization_id,
            "kind": _scorer_kind(absorbed),
            "score": merge.score or 0.0,
            "status": MatchCandidate.Status.REJECTED,
            "decided_by": actor,
            "decided_at": merge.split_at,
            "reason": reason,
        },
    )
    entities_refresh(entity_ids=[survivor_root_id, absorbed.pk])
    relationships_rebuild(organization_id=absorbed.organization_id, entity_ids=[survivor_root_id, absorbed.pk])
    return absorbed


@transaction.atomic
def match_decide(*, candidate: MatchCandidate, actor: User, confirmed: bool, reason: str = "") -> MatchCandidate:
    """An investigator's verdict on a candidate: confirmed merges the two entities, rejected keeps them apart for
    good. Either way the decision teaches the scorer (a refit is queued after the commit)."""
    from apps.entities.tasks import entities_scorer_refit

    candidate = MatchCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status != MatchCandidate.Status.PENDING:
        raise DomainError(_("This match has already been decided."))
    if not confirmed and not reason.strip():
        raise DomainError(_("Say why these are different entities."))
    candidate.status = MatchCandidate.Status.CONFIRMED if confirmed else MatchCandidate.Status.REJECTED
    candidate.decided_by = actor
    candidate.decided_at = timezone.now()
    candidate.reason = reason
    candidate.save(update_fields=["status", "decided_by", "decided_at", "reason", "updated_at"])
    if confirmed:
        roots = entity_roots([candidate.left_id, candidate.right_id])
        left, right = Entity.objects.get(pk=roots[candidate.left_id]), Entity.objects.get(pk=roots[candidate.right_id])
        if left.pk != right.pk:
            survivor, absorbed = (left, right) if left.pk < right.pk else (right, left)
            entity_merge(
                survivor=survivor,
                absorbed=absorbed,
                actor=actor,
                method=MatchMethod.REVIEW,
                score=candidate.score,
                candidate=candidate,
                reason=reason,
            )
    organization_id, kind = candidate.organization_id, candidate.kind
    # The decision stands even when the broker is down; the next decision queues the refit again.
    transaction.on_commit(lambda: entities_scorer_refit.delay(organization_id, kind), robust=True)
    return candidate
