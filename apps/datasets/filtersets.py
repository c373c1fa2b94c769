"""The dataset list's filters, shared by the page and the API (NetBox's ``filtersets.py``, without django-filter)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.datasets.models import DatasetStatus, RecordKind


class DatasetFilterSet(forms.Form):
    """``?kind=…&status=…``; an unknown value is a form error and filters nothing rather than everything."""

    kind = forms.ChoiceField(
        label=_("Record kind"), required=False, choices=[("", _("All kinds")), *RecordKind.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *DatasetStatus.choices]
    )

    def filter(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.is_valid():
            return queryset.none()
        for name in ("kind", "status"):
            value = self.cleaned_data.get(name)
            if value:
                queryset = queryset.filter(**{name: value})
        return queryset

    @property
    def is_filtering(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)
