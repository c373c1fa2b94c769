from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.anomalies.services import DISMISS_REASON_REQUIRED

if TYPE_CHECKING:
    from apps.accounts.models import User


class AnomalyVerdictForm(forms.Form):
    ACTIONS = (("confirm", _("Confirm")), ("dismiss", _("Dismiss")))

    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000, widget=forms.TextInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("action") == "dismiss" and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", str(DISMISS_REASON_REQUIRED))
        return cleaned


class ModelTrainForm(forms.Form):
    """Train a risk model on one mapped declarations file (with its outcome column), or on everything."""

    dataset: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Declarations"),
        queryset=None,
        required=False,
        empty_label=_("All of the organisation's declarations"),
        help_text=_(
            "A file loaded through the mapping page with its outcome column mapped to “violation found”. The model "
            "learns from its earlier inspections and is measured on the most recent ones."
        ),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        from apps.datasets.models import Dataset, DatasetStatus, RecordKind

        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = (  # type: ignore[attr-defined]
            Dataset.objects.restrict(user, "view")
            .filter(kind=RecordKind.CUSTOMS_DECLARATION, status=DatasetStatus.READY)
            .order_by("-created_at")
        )
