from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.entities.models import Watchlist


class WatchlistUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or Windows-1251, comma or semicolon) with a column of names, or FollowTheMoney JSON lines "
            "such as an OpenSanctions export."
        ),
        allow_empty_file=True,  # An empty file gets the import's clear message rather than a form error.
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=Watchlist._meta.get_field("name").max_length,
        required=False,
        help_text=_("How the list is called on pages and in anomalies; the file name if you leave it empty."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None and not (cleaned.get("name") or "").strip():
            cleaned["name"] = PurePath(upload.name or "").stem[:255] or upload.name
        return cleaned
