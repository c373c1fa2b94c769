"""The search form, shared by the page, the API and saved searches (``?q=…&kind=…&date_from=…``)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.search.engines.base import ResultKind, SearchFilters, SearchMode, SearchQuery

COUNTRY_CODE = re.compile(r"[A-Z]{2}")
CHAPTER = re.compile(r"\d{2}")
# The parameters a saved search keeps.
PARAMS = ("q", "kind", "date_from", "date_to", "country", "chapter", "office", "dataset", "mode")


class SearchFilterSet(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    kind = forms.MultipleChoiceField(
        label=gettext_lazy("Kind"), required=False, choices=ResultKind.choices, widget=forms.CheckboxSelectMultiple
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    country = forms.CharField(
        label=gettext_lazy("Country"), required=False, max_length=2, help_text=gettext_lazy("Two letters, as CN.")
    )
    chapter = forms.CharField(
        label=gettext_lazy("Goods chapter"),
        required=False,
        max_length=2,
        help_text=gettext_lazy("The first two digits of the УКТЗЕД code, as 03."),
    )
    office = forms.CharField(label=gettext_lazy("Customs office code"), required=False, max_length=16)
    dataset = forms.IntegerField(label=gettext_lazy("Dataset"), required=False, min_value=1)
    mode = forms.ChoiceField(label=gettext_lazy("Mode"), required=False, choices=SearchMode.choices)

    def clean_country(self) -> str:
        country = str(self.cleaned_data.get("country") or "").strip().upper()
        if country and not COUNTRY_CODE.fullmatch(country):
            raise forms.ValidationError(_("A country is two Latin letters (ISO 3166), as UA."))
        return country

    def clean_chapter(self) -> str:
        chapter = str(self.cleaned_data.get("chapter") or "").strip()
        if len(chapter) == 1 and chapter.isdigit():
            chapter = chapter.zfill(2)
        if chapter and not CHAPTER.fullmatch(chapter):
            raise forms.ValidationError(_("A goods chapter is two digits, as 03."))
        return chapter

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned

    def to_query(self) -> SearchQuery:
        data = self.cleaned_data
        return SearchQuery(
            text=str(data.get("q") or "").strip(),
            filters=SearchFilters(
                kinds=tuple(data.get("kind") or ()),
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                country=data.get("country") or "",
                chapter=data.get("chapter") or "",
                office=str(data.get("office") or "").strip(),
                dataset_id=data.get("dataset"),
            ),
            mode=data.get("mode") or SearchMode.AUTO,
        )

    def params(self) -> dict[str, Any]:
        """The cleaned parameters as JSON (for a saved search); empty ones left out."""
        params: dict[str, Any] = {}
        for name in PARAMS:
            value = self.cleaned_data.get(name)
            if value is None or value in ("", []):
                continue
            params[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return params


def query_from_params(params: dict[str, Any]) -> SearchQuery:
    """A saved search's query; parameters that no longer validate are dropped rather than failing the re-run."""
    form = SearchFilterSet(data=params)
    if not form.is_valid():
        form = SearchFilterSet(data={key: value for key, value in params.items() if key not in form.errors})
        form.is_valid()
    return form.to_query()
