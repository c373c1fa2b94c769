"""The search endpoints: one search over every kind the caller may read (paginated), entity autocomplete, and
the caller's saved searches.

Results are read back through ``restrict()``; personal values are masking tokens and flagged ``masked``. The list
holds each kind's best ``PER_KIND_RANKED`` results; narrow the query or the kinds to reach others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.viewsets import RestrictedGenericViewSet
from apps.core.errors import DomainError
from apps.search import selectors, services
from apps.search.api.serializers import SavedSearchSerializer, SearchResultSerializer, SuggestionSerializer
from apps.search.engines.base import ResultKind, SearchMode
from apps.search.filtersets import SearchFilterSet
from apps.search.models import SavedSearch

if TYPE_CHECKING:
    from rest_framework.serializers import BaseSerializer

    from apps.accounts.models import User

SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, required=True, description="Words, names (any script) or codes."),
    OpenApiParameter("kind", str, many=True, enum=ResultKind.values, description="Only results of these kinds."),
    OpenApiParameter("date_from", str, description="Records dated on or after (YYYY-MM-DD)."),
    OpenApiParameter("date_to", str, description="Records dated on or before (YYYY-MM-DD)."),
    OpenApiParameter("country", str, description="Counterparty country (ISO 3166 alpha-2)."),
    OpenApiParameter("chapter", str, description="Goods chapter: the first two digits of the УКТЗЕД code."),
    OpenApiParameter("office", str, description="Customs office code."),
    OpenApiParameter("dataset", int, description="Only records of this dataset."),
    OpenApiParameter(
        "mode",
        str,
        enum=SearchMode.values,
        description="``exact`` names and codes, ``hybrid`` words and meaning; ``auto`` lets the planner choose.",
    ),
]


def _user(request: Request) -> User:
    return cast("User", request.user)


class SearchPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema(
    summary="Search",
    description="One search over entities, declarations, invoices, registry companies, Telegram messages, "
    "documents and cases the caller may read, ranked by reciprocal rank fusion of the engines that found each "
    f"result. Each kind is ranked {selectors.PER_KIND_RANKED} deep.",
    parameters=SEARCH_PARAMETERS,
)
class SearchView(generics.ListAPIView[Any]):
    serializer_class = SearchResultSerializer
    pagination_class = SearchPagination

    def get_queryset(self) -> Any:
        form = SearchFilterSet(self.request.query_params)
        if not form.is_valid():
            raise ValidationError({name: [str(error) for error in errors] for name, errors in form.errors.items()})
        query = form.to_query()
        if not query.text:
            raise ValidationError({"q": [_("Type something to search for.")]})
        return selectors.search_list(user=_user(self.request), query=query)


@extend_schema(
    summary="Autocomplete entity names and codes",
    parameters=[OpenApiParameter("q", str, required=True, description="The start of a name or a code.")],
    responses=SuggestionSerializer(many=True),
)
class AutocompleteView(generics.GenericAPIView[Any]):
    serializer_class = SuggestionSerializer
    pagination_class = None

    def get(self, request: Request) -> Response:
        text = str(request.query_params.get("q", ""))[:100]
        suggestions = selectors.suggestions_list(user=_user(request), text=text)
        return Response(SuggestionSerializer(suggestions, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List your saved searches"),
    retrieve=extend_schema(summary="Read a saved search"),
    create=extend_schema(
        summary="Save a search",
        description="What the search finds now counts as seen; when new data is loaded it runs again and you are "
        "notified of results it has not shown before.",
    ),
    destroy=extend_schema(summary="Delete a saved search"),
)
class SavedSearchViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    RestrictedGenericViewSet,
):
    queryset = SavedSearch.objects.all()
    serializer_class = SavedSearchSerializer

    def get_queryset(self) -> QuerySet[SavedSearch]:
        return super().get_queryset().filter(owner_id=self.request.user.pk)

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        data = cast(dict[str, Any], serializer.validated_data)
        form = SearchFilterSet(data["params"])
        if not form.is_valid():
            raise ValidationError({"params": {name: [str(e) for e in errors] for name, errors in form.errors.items()}})
        try:
            saved = services.saved_search_create(
                actor=_user(self.request), name=data["name"], params=form.params(), notify=data.get("notify", True)
            )
        except DomainError as error:
            raise ValidationError({"params": [str(error)]}) from error
        serializer.instance = saved

    def perform_destroy(self, instance: SavedSearch) -> None:
        services.saved_search_delete(actor=_user(self.request), saved_search=instance)
