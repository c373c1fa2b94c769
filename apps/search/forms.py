from __future__ import annotations

from django import forms

from apps.search.models import SavedSearch


class SavedSearchForm(forms.ModelForm[SavedSearch]):
    class Meta:
        model = SavedSearch
        fields = ["name", "notify"]
