"""The filters of the case list, shared by the page and the API (NetBox's ``filtersets.py``, without django-filter)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Case as SqlCase
from django.db.models import IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.cases.models import OPEN_STATUSES, Case, CasePriority, CaseStatus

# The status filter's extra choices: every status, or every one but closed (the default).
ANY_STATUS = "all"
OPEN = "open"
MINE = "me"
ORDERINGS = {
    "due": ("due_date", "-id"),
    "-created": ("-created_at", "-id"),
    "priority": ("-priority_rank", "due_date", "-id"),
}
ORDERING_LABELS = {
    "due": _("Due first"),
    "-created": _("Newest first"),
    "priority": _("Highest priority first"),
}
PRIORITY_RANK = {CasePriority.CRITICAL: 4, CasePriority.HIGH: 3, CasePriority.MEDIUM: 2, CasePriority.LOW: 1}


class CaseFilterSet(forms.Form):
    """``?q=&status=open|all|<status>&priority=&lead=me|<id>&tag=&overdue=1&ordering=``; open cases unless asked."""

    q = forms.CharField(
        label=_("Title, description or number"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(OPEN, _("Open")), *CaseStatus.choices, (ANY_STATUS, _("Any status"))],
    )
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=[("", _("Any priority")), *CasePriority.choices]
    )
    lead = forms.CharField(
        label=_("Lead investigator"),
        required=False,
        max_length=20,
        help_text=_("“me”, or a user's number."),
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    ordering = forms.ChoiceField(label=_("Order"), required=False, choices=list(ORDERING_LABELS.items()))

    def __init__(self, data: Any = None, *, user: Any = None, **kwargs: Any) -> None:
        data = data.copy() if data is not None else {}
        if not data.get("status"):
            data["status"] = OPEN
        super().__init__(data, **kwargs)
        self.user = user

    def clean_lead(self) -> str:
        lead = str(self.cleaned_data.get("lead") or "").strip().lower()
        if lead and lead != MINE and not lead.isdigit():
            raise forms.ValidationError(_("Write “me” or a user's number."))
        return lead

    def filter(self, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if not self.is_valid():
            return queryset.none()
        data = self.cleaned_data
        if q := data["q"].strip():
            number = q.lstrip("#")
            match = Q(title__icontains=q) | Q(description__icontains=q)
            if number.isdigit() and len(number) < 19:
                match |= Q(pk=int(number))
            queryset = queryset.filter(match)
        status = data["status"] or OPEN
        if status == OPEN:
            queryset = queryset.filter(status__in=OPEN_STATUSES)
        elif status != ANY_STATUS:
            queryset = queryset.filter(status=status)
        if data["priority"]:
            queryset = queryset.filter(priority=data["priority"])
        if lead := data["lead"]:
            queryset = queryset.filter(lead_id=self.user.pk if lead == MINE and self.user else int(lead))
        if tag := " ".join(data["tag"].split()).lower():
            queryset = queryset.filter(tags__contains=[tag])
        if data["overdue"]:
            queryset = queryset.filter(status__in=OPEN_STATUSES, due_date__lt=timezone.localdate())
        ordering = data["ordering"] or "due"
        if ordering == "priority":
            queryset = queryset.annotate(
                priority_rank=SqlCase(
                    *[When(priority=priority, then=Value(rank)) for priority, rank in PRIORITY_RANK.items()],
                    default=Value(0),
                    output_field=IntegerField(),
                )
            )
        return queryset.order_by(*ORDERINGS[ordering])

    @property
    def is_filtering(self) -> bool:
        return (
            any(self.data.get(name) for name in ("q", "priority", "lead", "tag", "overdue"))
            or self.data.get("status") != OPEN
        )
