from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.privacy.services import REASON_MAX_LENGTH, REASON_MIN_LENGTH


class UnlockForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need to see the personal data?"),
        help_text=_("Recorded with your name, the time and the object, and reviewed by administrators."),
        min_length=REASON_MIN_LENGTH,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
