"""The forms of the case pages. They check shapes; the rules (who may, which transition, what closing needs) are
the services', whose ``DomainError`` the views show on the form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.cases.models import Case, CasePriority, CaseStatus, ClosureClassification, ExportFormat

MAX_LINKED_IDS = 500


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        user: User = obj
        full_name = user.get_full_name()
        return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


class UsersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return UserChoiceField.label_from_instance(self, obj)  # type: ignore[arg-type]


class TagsField(forms.CharField):
    """Tags typed as a comma-separated list."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [tag.strip() for tag in text.split(",") if tag.strip()]

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value


def _ids(text: str) -> list[int]:
    ids = []
    for part in text.replace(",", " ").split():
        if not part.isdigit() or len(part) > 18:
            raise forms.ValidationError(_("Numbers only, separated by commas."))
        ids.append(int(part))
    if len(ids) > MAX_LINKED_IDS:
        raise forms.ValidationError(_("At most %(count)d at once.") % {"count": MAX_LINKED_IDS})
    return list(dict.fromkeys(ids))


class LinkedItemsForm(forms.Form):
    """What a case is opened from or gets added: anomaly and entity numbers, records as ``kind:id``."""

    anomalies = forms.CharField(label=_("Anomaly numbers"), required=False, widget=forms.HiddenInput)
    entities = forms.CharField(label=_("Entity numbers"), required=False, widget=forms.HiddenInput)
    records = forms.CharField(label=_("Records"), required=False, widget=forms.HiddenInput)

    def clean_anomalies(self) -> list[int]:
        return _ids(self.cleaned_data.get("anomalies") or "")

    def clean_entities(self) -> list[int]:
        return _ids(self.cleaned_data.get("entities") or "")

    def clean_records(self) -> list[tuple[str, int]]:
        refs = []
        for part in (self.cleaned_data.get("records") or "").replace(",", " ").split():
            kind, _sep, number = part.partition(":")
            if not kind or not number.isdigit() or len(number) > 18:
                raise forms.ValidationError(_("A record is written as kind:number."))
            refs.append((kind, int(number)))
        return list(dict.fromkeys(refs))


class CaseCreateForm(LinkedItemsForm):
    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    priority = forms.ChoiceField(label=_("Priority"), choices=CasePriority.choices, initial=CasePriority.MEDIUM)
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Left empty, the priority's service level sets it (3, 7, 14 or 30 days)."),
    )
    tags = TagsField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    lead = UserChoiceField(label=_("Lead investigator"), queryset=User.objects.none(), required=False)
    team = UsersChoiceField(label=_("Team"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, assignable: QuerySet[User] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if assignable is None:
            # Without the right to assign, the one who opens the case leads it.
            del self.fields["lead"]
            del self.fields["team"]
        else:
            self.fields["lead"].queryset = assignable  # type: ignore[attr-defined]
            self.fields["team"].queryset = assignable  # type: ignore[attr-defined]


class CaseEditForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    priority = forms.ChoiceField(label=_("Priority"), choices=CasePriority.choices)
    due_date = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))
    tags = TagsField(label=_("Tags"), required=False, help_text=_("Separated by commas."))


class CaseAssignForm(forms.Form):
    lead = UserChoiceField(label=_("Lead investigator"), queryset=User.objects.none(), required=False)
    team = UsersChoiceField(label=_("Team"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, assignable: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = assignable  # type: ignore[attr-defined]
        self.fields["team"].queryset = assignable  # type: ignore[attr-defined]


class CaseStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=CaseStatus.choices)
    classification = forms.ChoiceField(
        label=_("Closure classification"),
        required=False,
        choices=[("", _("Choose when closing")), *ClosureClassification.choices],
    )
    amount_assessed = forms.DecimalField(
        label=_("Amount assessed, UAH"), required=False, min_value=0, max_digits=20, decimal_places=2
    )
    reason = forms.CharField(
        label=_("Reason or receiving agency"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    duplicate_of = forms.IntegerField(label=_("Duplicate of case number"), required=False, min_value=1)


class CaseNoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Markdown. Mention a colleague with @username to notify them."),
    )


class CaseTaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=300)
    assignee = UserChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, people: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = people  # type: ignore[attr-defined]


class CaseEvidenceForm(forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), required=False, max_length=500)


class CaseExportForm(forms.Form):
    fmt = forms.ChoiceField(label=_("Format"), choices=ExportFormat.choices)


class CaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.title} · {obj.get_status_display()}"


class CaseChoiceForm(forms.Form):
    case = CaseChoiceField(label=_("Case"), queryset=Case.objects.none(), widget=forms.RadioSelect)

    def __init__(self, *args: Any, cases: QuerySet[Case], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["case"].queryset = cases  # type: ignore[attr-defined]


class BulkAction:
    ASSIGN = "assign"
    TAG = "tag"
    STATUS = "status"


BULK_ACTIONS = [
    (BulkAction.STATUS, _("Change status")),
    (BulkAction.TAG, _("Add tags")),
    (BulkAction.ASSIGN, _("Assign lead")),
]


class CaseBulkForm(forms.Form):
    """The list's bulk actions on the ticked cases."""

    cases = forms.TypedMultipleChoiceField(label=_("Cases"), coerce=int, choices=[])
    action = forms.ChoiceField(label=_("Action"), choices=BULK_ACTIONS)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", "—"), *CaseStatus.choices])
    tags = TagsField(label=_("Tags"), required=False)
    lead = UserChoiceField(label=_("Lead investigator"), queryset=User.objects.none(), required=False)

    def __init__(
        self, *args: Any, case_ids: list[int], assignable: QuerySet[User], may_assign: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cases"].choices = [(pk, str(pk)) for pk in case_ids]  # type: ignore[attr-defined]
        if may_assign:
            self.fields["lead"].queryset = assignable  # type: ignore[attr-defined]
        else:
            self.fields["action"].choices = [c for c in BULK_ACTIONS if c[0] != BulkAction.ASSIGN]  # type: ignore[attr-defined]
            del self.fields["lead"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        if action == BulkAction.STATUS and not cleaned.get("status"):
            self.add_error("status", _("Choose the new status."))
        if action == BulkAction.TAG and not cleaned.get("tags"):
            self.add_error("tags", _("Write the tags to add."))
        if action == BulkAction.ASSIGN and not cleaned.get("lead"):
            self.add_error("lead", _("Choose the lead investigator."))
        return cleaned
