"""The anomaly feed's filters (severity, detector, goods chapter, country, customs post, dates, status), shared by
the feed page, its fragments and the live updates."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from apps.anomalies.models import Anomaly, AnomalyStatus, Severity

COUNTRY = re.compile(r"[A-Za-z]{2}")
CHAPTER = re.compile(r"\d{2}")
FILTER_KEYS = ("severity", "detector", "chapter", "country", "office", "date_from", "date_to", "status")


def detector_choices() -> list[tuple[str, str]]:
    from apps.anomalies.detectors import DETECTORS

    # Watchlist anomalies are raised by apps.entities.watchlists under the same name as the watchlist detector.
    return [(name, str(detector.label)) for name, detector in DETECTORS.items()]


class AnomalyFilterSet(forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), required=False)
    detector = forms.ChoiceField(label=_("Detector"), required=False)
    chapter = forms.CharField(
        label=_("Goods chapter"), required=False, max_length=2, help_text=_("Two digits, e.g. 22")
    )
    country = forms.CharField(label=_("Country"), required=False, max_length=2)
    office = forms.CharField(label=_("Customs post"), required=False, max_length=16)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, data: QueryDict | dict[str, Any] | None = None) -> None:
        super().__init__(data or None)
        blank: list[tuple[str, Any]] = [("", _("Any"))]
        cast(forms.ChoiceField, self.fields["severity"]).choices = blank + list(Severity.choices)
        cast(forms.ChoiceField, self.fields["detector"]).choices = blank + detector_choices()
        cast(forms.ChoiceField, self.fields["status"]).choices = blank + list(AnomalyStatus.choices)

    def clean_chapter(self) -> str:
        value = (self.cleaned_data.get("chapter") or "").strip()
        if value and not CHAPTER.fullmatch(value):
            raise forms.ValidationError(_("A goods chapter is two digits."))
        return value

    def clean_country(self) -> str:
        value = (self.cleaned_data.get("country") or "").strip()
        if value and not COUNTRY.fullmatch(value):
            raise forms.ValidationError(_("A country is its two-letter ISO code."))
        return value.upper()

    def filter(self, queryset: QuerySet[Anomaly]) -> QuerySet[Anomaly]:
        if not self.is_bound or not self.is_valid():
            return queryset
        data = self.cleaned_data
        lookups = {
            "severity": data.get("severity"),
            "detector": data.get("detector"),
            "goods_chapter": data.get("chapter"),
            "country": data.get("country"),
            "customs_office_code": (data.get("office") or "").strip(),
            "occurred_on__gte": data.get("date_from"),
            "occurred_on__lte": data.get("date_to"),
            "status": data.get("status"),
        }
        return queryset.filter(**{key: value for key, value in lookups.items() if value})

    def query(self) -> str:
        """The active filters as a query string, for the infinite scroll and the live updates."""
        params = QueryDict(mutable=True)
        if self.is_bound:
            for key in FILTER_KEYS:
                value = self.data.get(key)
                if value:
                    params[key] = value
        return params.urlencode()
