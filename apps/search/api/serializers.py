from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.search.engines.base import Engine, ResultKind, SearchMode
from apps.search.filtersets import PARAMS
from apps.search.models import SavedSearch


class ResultFieldSerializer(serializers.Serializer[Any]):
    # The metaclass takes declared fields off the class, so these names do not shadow Field's attributes.
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.CharField(help_text="A masking token when ``masked`` is true.")
    masked = serializers.BooleanField()


class SearchResultSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=ResultKind.choices)
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    title_masked = serializers.BooleanField(help_text="The title is a masking token (a personal value).")
    url = serializers.CharField(help_text="The page of the result in the web interface.")
    date = serializers.DateField(allow_null=True)
    score = serializers.FloatField(help_text="Reciprocal rank fusion score within the result's kind.")
    engines = serializers.ListField(
        child=serializers.ChoiceField(choices=Engine.choices), help_text="The engines that found the result."
    )
    highlights = serializers.ListField(
        child=serializers.CharField(), help_text="HTML fragments, escaped, with <mark> around the matches."
    )
    fields = ResultFieldSerializer(many=True)  # type: ignore[assignment]


class SuggestionSerializer(serializers.Serializer[Any]):
    label = serializers.CharField()  # type: ignore[assignment]
    detail = serializers.CharField()
    entity_id = serializers.IntegerField()


class SavedSearchSerializer(serializers.ModelSerializer[SavedSearch]):
    params = serializers.DictField(
        help_text=f"The search's parameters, as the search endpoint takes them: {', '.join(PARAMS)}; "
        f"``mode`` is one of {', '.join(SearchMode.values)}."
    )

    class Meta:
        model = SavedSearch
        fields = ["id", "name", "params", "notify", "last_run_at", "last_new_hits", "created_at"]
        read_only_fields = ["last_run_at", "last_new_hits", "created_at"]
