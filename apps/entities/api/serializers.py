"""What the entities API says about entities, their links and records, merges and match candidates.

Personal values are masking tokens here as everywhere: a person's name, a РНОКПП, a date of birth. Only the
entity's ``unlocked`` field reads the privacy vault, and only during the caller's audited unlock of the entity.
"""

from __future__ import annotations

from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.entities.forms import REASON_MAX_LENGTH
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityMention,
    EntityMerge,
    EntityName,
    MatchCandidate,
    Relationship,
    RelationshipKind,
)
from apps.entities.scoring import FEATURE_LABELS
from apps.entities.selectors import entity_attributes
from apps.privacy.api.serializers import PIIUnlockedField


class EntityBriefSerializer(serializers.ModelSerializer[Entity]):
    """An entity named in another answer: enough to show it and to ask for it."""

    class Meta:
        model = Entity
        fields = ["id", "kind", "name", "country", "is_pii"]
        read_only_fields = fields


class EntitySerializer(serializers.ModelSerializer[Entity]):
    url = serializers.HyperlinkedIdentityField(view_name="api:entity-detail")

    class Meta:
        model = Entity
        fields = [
            "id", "url", "kind", "name", "country", "is_pii", "mention_count", "first_seen", "last_seen",
            "degree", "betweenness", "pagerank", "community",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "name": {"help_text": _("The most common spelling; a masking token for a person.")},
            "is_pii": {"help_text": _("A person: the name and personal identifiers are masking tokens.")},
            "mention_count": {"help_text": _("Records that name the entity.")},
            "community": {"help_text": _("The graph community the entity belongs to; null outside the graph.")},
        }


class EntityIdentifierSerializer(serializers.ModelSerializer[EntityIdentifier]):
    class Meta:
        model = EntityIdentifier
        fields = ["scheme", "value", "is_valid"]
        read_only_fields = fields
        extra_kwargs = {"value": {"help_text": _("A masking token for a personal identifier (РНОКПП, phone).")}}


class EntityNameSerializer(serializers.ModelSerializer[EntityName]):
    class Meta:
        model = EntityName
        fields = ["name", "country", "mention_count"]
        read_only_fields = fields


class EntityDetailSerializer(EntitySerializer):
    # Read from the ``visible_*`` prefetches the view makes: empty when the caller may not see names or identifiers.
    identifiers = EntityIdentifierSerializer(source="visible_identifiers", many=True, read_only=True)
    names = EntityNameSerializer(source="visible_names", many=True, read_only=True)
    attributes = serializers.SerializerMethodField()
    # The clear values of the tokens above, only while the caller holds a live unlock of the entity (apps.privacy).
    unlocked = PIIUnlockedField()

    class Meta(EntitySerializer.Meta):
        fields = [*EntitySerializer.Meta.fields, "attributes", "identifiers", "names", "unlocked"]
        read_only_fields = fields

    @extend_schema_field(
        serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text=_(
                "What the registers say about the entity: legal form, status, address, dates of birth (tokens), …; "
                "each a list of values."
            ),
        )
    )
    def get_attributes(self, entity: Entity) -> dict[str, list[str]]:
        return entity_attributes(entity)


class RelationshipSerializer(serializers.ModelSerializer[Relationship]):
    """One relationship seen from the entity asked about: ``direction`` says whether it is the source."""

    direction = serializers.SerializerMethodField()
    other = serializers.SerializerMethodField()

    class Meta:
        model = Relationship
        fields = [
            "id", "kind", "direction", "other", "source", "target", "first_date", "last_date", "record_count",
            "amount_uah",
        ]  # fmt: skip
        read_only_fields = fields

    def _entity_id(self) -> int:
        return int(self.context["entity"].pk)

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["outgoing", "incoming"],
            help_text=_("outgoing: the entity is the source (it is the director of the other); incoming: the target."),
        )
    )
    def get_direction(self, relationship: Relationship) -> str:
        return "outgoing" if relationship.source_id == self._entity_id() else "incoming"

    @extend_schema_field(EntityBriefSerializer)
    def get_other(self, relationship: Relationship) -> dict[str, Any]:
        other = relationship.target if relationship.source_id == self._entity_id() else relationship.source
        return dict(EntityBriefSerializer(other).data)


class EntityMentionSerializer(serializers.ModelSerializer[EntityMention]):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)

    class Meta:
        model = EntityMention
        fields = [
            "id", "record_kind", "record_id", "role", "dataset", "dataset_name", "date", "name", "method", "score",
            "amount_uah",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "name": {"help_text": _("The name as the record writes it; a masking token for a person.")},
            "score": {"help_text": _("How sure the resolver was that the record names this entity (0–1).")},
        }


class NeighbourhoodNodeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text=_("A masking token for a person."))
    kind = serializers.ChoiceField(choices=EntityKind.choices)
    is_pii = serializers.BooleanField()
    country = serializers.CharField(allow_blank=True)
    degree = serializers.IntegerField()
    community = serializers.IntegerField(allow_null=True)
    hop = serializers.IntegerField(help_text=_("Links from the entity asked about; 0 for the entity itself."))


class NeighbourhoodEdgeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    # The stubs know ``source`` only as the attribute every field has; here it is the answer's field of that name.
    source = serializers.IntegerField()  # type: ignore[assignment]
    target = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RelationshipKind.choices)
    first_date = serializers.DateField(allow_null=True)
    last_date = serializers.DateField(allow_null=True)
    record_count = serializers.IntegerField()
    amount_uah = serializers.DecimalField(max_digits=22, decimal_places=2, allow_null=True)


class NeighbourhoodSerializer(serializers.Serializer[Any]):
    center = serializers.IntegerField(help_text=_("The entity asked about (the survivor, if it was merged)."))
    nodes = NeighbourhoodNodeSerializer(many=True)
    edges = NeighbourhoodEdgeSerializer(many=True)
    truncated = serializers.BooleanField(
        help_text=_("The neighbourhood is larger than one answer holds: the strongest links were kept.")
    )


class EntityMergeSerializer(serializers.ModelSerializer[EntityMerge]):
    survivor = EntityBriefSerializer(read_only=True)
    absorbed = EntityBriefSerializer(read_only=True)
    merged_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    split_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = EntityMerge
        fields = [
            "id", "survivor", "absorbed", "method", "score", "candidate", "merged_by", "reason", "created_at",
            "split_at", "split_by", "split_reason",
        ]  # fmt: skip
        read_only_fields = fields


class EntityMergeCreateSerializer(serializers.Serializer[None]):
    absorbed_id = serializers.IntegerField(
        min_value=1, help_text=_("The entity to fold into the one in the address; it must not be merged already.")
    )
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text=_("Why the two are the same."))


class EntitySplitSerializer(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text=_("Why the merge was wrong."))


class ExplanationLineSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(help_text=_("The feature compared: name, surname, birth_date, …"))
    # The stubs know ``label`` only as the attribute every field has; here it is the answer's field of that name.
    label = serializers.SerializerMethodField()  # type: ignore[assignment]
    left = serializers.CharField(allow_blank=True, help_text=_("The first entity's value; a token if personal."))
    right = serializers.CharField(allow_blank=True, help_text=_("The second entity's value; a token if personal."))
    similarity = serializers.FloatField(help_text=_("Agreement from -1 (disagrees) through 0 (unknown) to 1."))
    weight = serializers.FloatField()
    contribution = serializers.FloatField(help_text=_("weight × similarity: what the field added to the score."))

    def get_label(self, line: dict[str, Any]) -> str:
        field = str(line.get("field", ""))
        return capfirst(str(FEATURE_LABELS.get(field, field)))


class MatchCandidateSerializer(serializers.ModelSerializer[MatchCandidate]):
    left = EntityBriefSerializer(read_only=True)
    right = EntityBriefSerializer(read_only=True)
    explanation = serializers.SerializerMethodField()
    decided_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = MatchCandidate
        fields = [
            "id", "kind", "score", "status", "left", "right", "explanation", "decided_by", "decided_at", "reason",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {"score": {"help_text": _("The scorer's probability that the two are the same (0–1).")}}

    @extend_schema_field(ExplanationLineSerializer(many=True))
    def get_explanation(self, candidate: MatchCandidate) -> list[dict[str, Any]]:
        lines = candidate.explanation if isinstance(candidate.explanation, list) else []
        return list(ExplanationLineSerializer([line for line in lines if isinstance(line, dict)], many=True).data)


class MatchDecisionSerializer(serializers.Serializer[None]):
    confirmed = serializers.BooleanField(
        help_text=_("true: the same entity, they are merged; false: different entities, kept apart for good.")
    )
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, help_text=_("Required to reject.")
    )
