"""The entities endpoints: the organisation's entities with their relationships, neighbourhood and records; merging
and splitting; the review queue of possible matches and its decisions.

Reads go through ``restrict()`` (``apps.entities.selectors``): another organisation's entity, merge or candidate is
a 404, and its entities are never listed. Lists hold root entities only; an entity absorbed by a merge answers, on
its detail and sub-resources, as the entity it was merged into (the ``id`` of the answer says which). Writes go
through ``apps.entities.services``, which audit them; a refused one is a 400 with the reason.

A partner (role ``partner``) reads entities and relationships, and nothing else: the records behind an entity,
merges and candidates need the permissions of an investigator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.apps import apps as django_apps
from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.core.api.permissions import DENIED_MESSAGES, OrganizationMemberPermission, OrganizationModelPermission
from apps.core.api.viewsets import RestrictedGenericViewSet
from apps.entities import selectors, services
from apps.entities.api.serializers import (
    EntityDetailSerializer,
    EntityMentionSerializer,
    EntityMergeCreateSerializer,
    EntityMergeSerializer,
    EntitySerializer,
    EntitySplitSerializer,
    MatchCandidateSerializer,
    MatchDecisionSerializer,
    NeighbourhoodSerializer,
    RelationshipSerializer,
)
from apps.entities.filtersets import (
    ANY_STATUS,
    EntityFilterSet,
    GraphQueryError,
    MatchCandidateFilterSet,
    RelationshipFilterSet,
    graph_query,
)
from apps.entities.models import (
    Entity,
    EntityKind,
    EntityMerge,
    MatchCandidate,
    MatchMethod,
    RelationshipKind,
    ScorerKind,
)
from apps.entities.selectors import ENTITY_ORDERINGS

if TYPE_CHECKING:
    from django import forms

    from apps.accounts.models import User


def _invalid(form: forms.Form) -> ValidationError:
    return ValidationError({name: [str(error) for error in errors] for name, errors in form.errors.items()})


def _denied_message(permission: str) -> str:
    """ "You do not have permission to view relationships." for ``entities.view_relationship``."""
    app_label, codename = permission.split(".", 1)
    verb, model_name = codename.split("_", 1)
    model = django_apps.get_model(app_label, model_name)
    return str(DENIED_MESSAGES[verb] % {"objects": model._meta.verbose_name_plural})


class ActionPermission(OrganizationModelPermission):
    """The model permissions an action needs where its HTTP method does not say them: ``action_permissions`` of
    the view, by action name (reading an entity's records needs ``view_entitymention``, a merge ``change_entity``).
    Other actions need what their HTTP method needs on the view's model."""

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if needed is None:
            return super().has_permission(request, view)
        if not OrganizationMemberPermission.has_permission(self, request, view):
            return False
        for permission in needed:
            if not request.user.has_perm(permission):
                self.message = _denied_message(permission)
                return False
        return True


class EntityScopedViewSet(RestrictedGenericViewSet):
    """A viewset whose extra actions say the permissions they need and the ``restrict()`` action they read with."""

    permission_classes = [ActionPermission]
    action_permissions: ClassVar[dict[str, tuple[str, ...]]] = {}
    # The ``restrict()`` action of each view action whose HTTP method does not say it (a POST that changes).
    restrict_actions: ClassVar[dict[str, str]] = {}

    def get_queryset(self) -> QuerySet[Any]:
        restrict_action = self.restrict_actions.get(self.action or "")
        if restrict_action is None:
            return super().get_queryset()
        queryset = cast("QuerySet[Any]", self.queryset).all()
        # The manager's queryset is a RestrictedQuerySet, which the generic QuerySet type does not show.
        return queryset.restrict(self.request.user, restrict_action)  # type: ignore[attr-defined]

    def _user(self) -> User:
        return cast("User", self.request.user)


ENTITY_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The entity's id.")


@extend_schema_view(
    list=extend_schema(
        summary="List entities",
        description="The organisation's entities (merged ones left out), the ones named by most records first. "
        "`q` finds a name in any spelling the resolver folds together (Cyrillic or Latin, legal form or not), or "
        "an identifier exactly (an ЄДРПОУ, an IBAN, a token). A person's name or tax number typed in clear finds "
        "nothing: only their tokens do.",
        parameters=[
            OpenApiParameter("q", str, description="A name, an identifier (exact) or a masking token."),
            OpenApiParameter("kind", enum=EntityKind.values, description="Only entities of this kind."),
            OpenApiParameter("country", str, description="Only entities of this country (two letters, as UA)."),
            OpenApiParameter(
                "ordering", enum=list(ENTITY_ORDERINGS), description="records (default), degree, pagerank, …"
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="Read an entity",
        description="Profile, graph metrics, identifiers and names (each empty unless the caller may see them). "
        "An entity merged into another answers as that one: the `id` of the answer is the survivor's.",
        parameters=[ENTITY_ID],
    ),
)
class EntityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EntityScopedViewSet):
    """The organisation's companies, people, brokers, accounts, phones, addresses and vehicles."""

    queryset = Entity.objects.all()
    action_permissions: ClassVar[dict[str, tuple[str, ...]]] = {
        "relationships": ("entities.view_entity", "entities.view_relationship"),
        "neighbourhood": ("entities.view_entity", "entities.view_relationship"),
        "mentions": ("entities.view_entity", "entities.view_entitymention"),
        "merge": ("entities.view_entity", "entities.change_entity"),
    }
    restrict_actions: ClassVar[dict[str, str]] = {"merge": "change"}

    def get_queryset(self) -> QuerySet[Any]:
        if self.action == "list":
            filterset = EntityFilterSet(self.request.query_params)
            if not filterset.is_valid():
                raise _invalid(filterset)
            return selectors.entity_list(user=self.request.user, **filterset.cleaned_data)
        return super().get_queryset()

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return EntitySerializer if self.action == "list" else EntityDetailSerializer

    def _survivor(self) -> Entity:
        """The entity of the address, or the one it was merged into."""
        return selectors.entity_survivor(user=self.request.user, entity=self.get_object())

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entity = self._survivor()
        user = request.user
        entity = (
            Entity.objects.filter(pk=entity.pk)
            .prefetch_related(
                Prefetch(
                    "identifiers",
                    queryset=selectors.entity_identifiers(user=user, entity=entity),
                    to_attr="visible_identifiers",
                ),
                Prefetch("names", queryset=selectors.entity_names(user=user, entity=entity), to_attr="visible_names"),
            )
            .get()
        )
        return Response(EntityDetailSerializer(entity, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="An entity's relationships",
        description="Its relationships in both directions, the ones backed by most records first, each with the "
        "entity at the other end.",
        parameters=[
            ENTITY_ID,
            OpenApiParameter("kind", enum=RelationshipKind.values, description="Only relationships of this kind."),
        ],
        responses=RelationshipSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def relationships(self, request: Request, pk: str) -> Response:
        entity = self._survivor()
        filterset = RelationshipFilterSet(request.query_params)
        if not filterset.is_valid():
            raise _invalid(filterset)
        relationships = selectors.entity_relationships(user=request.user, entity=entity, **filterset.cleaned_data)
        page = self.paginate_queryset(relationships)
        context = {**self.get_serializer_context(), "entity": entity}
        return self.get_paginated_response(RelationshipSerializer(page, many=True, context=context).data)

    @extend_schema(
        summary="An entity's neighbourhood",
        description="The entities within `hops` links of the entity, and the relationships among them, as a graph. "
        "At most 300 entities, the strongest links first; `truncated` says when some were left out.",
        parameters=[
            ENTITY_ID,
            OpenApiParameter("hops", int, enum=[1, 2], description="Links to follow: 1 (default) or 2."),
            OpenApiParameter(
                "kinds", str, description="Relationship kinds to follow, comma-separated; all by default."
            ),
            OpenApiParameter("from", str, description="Only relationships that held on or after this date."),
            OpenApiParameter("to", str, description="Only relationships that held on or before this date."),
        ],
        responses=NeighbourhoodSerializer,
    )
    @action(detail=True, methods=["get"])
    def neighbourhood(self, request: Request, pk: str) -> Response:
        entity = self._survivor()
        try:
            query = graph_query(request.query_params)
        except GraphQueryError as error:
            raise ValidationError({error.parameter: [str(error)]}) from None
        graph = selectors.entity_graph(
            entity=entity, hops=query.hops, kinds=query.kinds, date_from=query.date_from, date_to=query.date_to
        )
        data = {"center": entity.pk, "nodes": graph.nodes, "edges": graph.edges, "truncated": graph.truncated}
        return Response(NeighbourhoodSerializer(data).data)

    @extend_schema(
        summary="The records behind an entity",
        description="Every record that names the entity (or an entity merged into it), latest first: its kind and "
        "id, the role the entity plays in it, the dataset, and how the resolver matched it.",
        parameters=[ENTITY_ID],
        responses=EntityMentionSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def mentions(self, request: Request, pk: str) -> Response:
        mentions = selectors.entity_mentions(user=request.user, entity=self._survivor())
        page = self.paginate_queryset(mentions)
        return self.get_paginated_response(EntityMentionSerializer(page, many=True).data)

    @extend_schema(
        summary="Merge another entity into this one",
        description="Folds `absorbed_id` into the entity of the address: its records, names and identifiers count "
        "for this one from now on. Audited; undone by splitting the merge. 400 when the entities cannot be merged "
        "(one is already merged, they are of kinds that cannot be, or it is the same entity).",
        parameters=[ENTITY_ID],
        request=EntityMergeCreateSerializer,
        responses={201: EntityMergeSerializer},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        survivor = self.get_object()
        serializer = EntityMergeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        absorbed = (
            Entity.objects.restrict(request.user, "change").filter(pk=serializer.validated_data["absorbed_id"]).first()
        )
        if absorbed is None:
            raise ValidationError({"absorbed_id": [_("Your organisation has no entity with this id.")]})
        merge = services.entity_merge(
            survivor=survivor,
            absorbed=absorbed,
            actor=self._user(),
            method=MatchMethod.MANUAL,
            reason=serializer.validated_data["reason"],
        )
        merge = EntityMerge.objects.select_related("survivor", "absorbed", "merged_by", "split_by").get(pk=merge.pk)
        return Response(EntityMergeSerializer(merge).data, status=status.HTTP_201_CREATED)


MERGE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The merge's id.")


@extend_schema_view(
    list=extend_schema(
        summary="List merges",
        description="The organisation's merges, latest first, split ones included.",
        parameters=[
            OpenApiParameter("entity", int, description="Only merges this entity took part in, on either side."),
        ],
    ),
    retrieve=extend_schema(summary="Read a merge", parameters=[MERGE_ID]),
)
class EntityMergeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EntityScopedViewSet):
    """Who folded which entity into which, how and why, and whether it was split again."""

    queryset = EntityMerge.objects.select_related("survivor", "absorbed", "merged_by", "split_by")
    serializer_class = EntityMergeSerializer
    action_permissions: ClassVar[dict[str, tuple[str, ...]]] = {
        "split": ("entities.view_entitymerge", "entities.change_entity"),
    }
    restrict_actions: ClassVar[dict[str, str]] = {"split": "view"}

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action == "split":
            # Splitting changes both entities: the merge is found only where the caller may change the absorbed one.
            return queryset.filter(absorbed__in=Entity.objects.restrict(self.request.user, "change"))
        if self.action == "list" and (entity := self.request.query_params.get("entity")):
            if not entity.isdigit():
                raise ValidationError({"entity": [_("An entity id is a whole number.")]})
            queryset = queryset.filter(Q(survivor_id=int(entity)) | Q(absorbed_id=int(entity)))
        return queryset

    @extend_schema(
        summary="Split a merge",
        description="Undoes the merge: the absorbed entity stands alone again with the records first resolved to "
        "it, and the pair is remembered as different so that resolution never merges it again. Audited. 400 when "
        "the merge was split already, or a later merge into the absorbed entity must be split first.",
        parameters=[MERGE_ID],
        request=EntitySplitSerializer,
        responses={200: EntityMergeSerializer},
    )
    @action(detail=True, methods=["post"])
    def split(self, request: Request, pk: str) -> Response:
        merge = self.get_object()
        serializer = EntitySplitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.entity_split(merge=merge, actor=self._user(), reason=serializer.validated_data["reason"])
        return Response(EntityMergeSerializer(self.queryset.get(pk=merge.pk)).data)


CANDIDATE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The candidate's id.")


@extend_schema_view(
    list=extend_schema(
        summary="List match candidates",
        description="The review queue: possible matches the resolver was not sure enough to merge on its own, the "
        "highest score first, each with the scorer's explanation. Pending ones unless `status` says otherwise.",
        parameters=[
            OpenApiParameter("kind", enum=ScorerKind.values, description="Companies or people."),
            OpenApiParameter(
                "status",
                enum=[*MatchCandidate.Status.values, ANY_STATUS],
                description=f"pending (default), confirmed, rejected, or {ANY_STATUS}.",
            ),
        ],
    ),
    retrieve=extend_schema(summary="Read a match candidate", parameters=[CANDIDATE_ID]),
)
class MatchCandidateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EntityScopedViewSet):
    """Possible matches waiting for an investigator's decision, and the decisions taken."""

    queryset = MatchCandidate.objects.all()
    serializer_class = MatchCandidateSerializer
    action_permissions: ClassVar[dict[str, tuple[str, ...]]] = {
        "decide": ("entities.view_matchcandidate", "entities.change_matchcandidate"),
    }
    restrict_actions: ClassVar[dict[str, str]] = {"decide": "change"}

    def get_queryset(self) -> QuerySet[Any]:
        action_name = self.restrict_actions.get(self.action or "", "view")
        queryset = selectors.match_candidate_list(user=self.request.user, action=action_name)
        if self.action == "list":
            filterset = MatchCandidateFilterSet(self.request.query_params)
            if not filterset.is_valid():
                raise _invalid(filterset)
            return filterset.filter(queryset)
        return queryset

    @extend_schema(
        summary="Decide a match candidate",
        description="`confirmed: true` merges the two entities (the older survives); `false` keeps them apart for "
        "good and needs a `reason`. Audited, and the decision teaches the scorer. 400 when the candidate was "
        "decided already or a rejection has no reason.",
        parameters=[CANDIDATE_ID],
        request=MatchDecisionSerializer,
        responses={200: MatchCandidateSerializer},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str) -> Response:
        candidate = self.get_object()
        serializer = MatchDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.match_decide(
            candidate=candidate,
            actor=self._user(),
            confirmed=serializer.validated_data["confirmed"],
            reason=serializer.validated_data.get("reason", ""),
        )
        decided = selectors.match_candidate_list(user=request.user).get(pk=candidate.pk)
        return Response(MatchCandidateSerializer(decided).data)
