"""The forms of the entity pages: merging another entity into one, splitting a merge, and a review decision.

The rules about merges (same organisation, mergeable kinds, a reason to reject or split) are the services'; these
forms only read what was typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

REASON_MAX_LENGTH = 2000


class MergeSearchForm(forms.Form):
    """``?merge_q=…`` on the entity page: find the entity to merge in."""

    merge_q = forms.CharField(
        label=_("Find the entity to merge in"),
        required=False,
        max_length=200,
        help_text=_("A name, an ЄДРПОУ or the entity’s number."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class EntityMergeForm(forms.Form):
    """The entity to fold into the page's entity, by number or chosen from a search, and why."""

    absorbed = forms.IntegerField(
        label=_("Entity to merge in"),
        min_value=1,
        help_text=_("Its number, as in the address of its page."),
    )
    reason = forms.CharField(
        label=_("Why they are the same"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, choices: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if choices:
            field = self.fields["absorbed"]
            field.widget = forms.Select(choices=list(choices))
            field.help_text = _("The entities your search found.")


class EntitySplitForm(forms.Form):
    # Required in the browser; an empty reason that gets through is refused by the service with its own message.
    reason = forms.CharField(
        label=_("Why the merge was wrong"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
    )


class MatchDecisionForm(forms.Form):
    """Sent by the candidate's Confirm or Reject button; rejecting needs a reason (checked by the service)."""

    CONFIRM = "confirm"
    REJECT = "reject"

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(CONFIRM, _("Same entity")), (REJECT, _("Different entities"))],
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text=_("Required to reject."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
