from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.datasets.ingest.mapping import MappingOptions, PartyCodes
from apps.datasets.models import ColumnMapping, RecordKind


class DatasetUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("Choose a file, or drag it onto this box."),
        allow_empty_file=True,  # An empty file gets the pipeline's clear message rather than a form error.
    )
    kind = forms.ChoiceField(
        label=_("Record kind"),
        choices=[("", _("Choose what the file holds")), *RecordKind.choices],
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=255,
        required=False,
        help_text=_("How the dataset is called in lists; the file name if you leave it empty."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None and not cleaned.get("name"):
            cleaned["name"] = PurePath(upload.name or "").name[:255]
        return cleaned


class MappingForm(forms.Form):
    """One select per column of the file, listing the record kind's fields; each field may be chosen once.

    ``headers`` are the file's column names in file order; ``fields`` maps a field name to its label; ``required``
    names the fields a row cannot be loaded without; ``initial_columns`` is the suggested {header: field}.

    Then the options (``apps.datasets.ingest.mapping.MappingOptions``): ``party_codes`` offers the choice of
    anonymised party codes (for the kinds whose parties have codes); ``fixable`` maps a field that may have one
    value for the whole file to its (value, label) choices, and a select ``fixed_<field>`` offers them.
    """

    party_codes = forms.BooleanField(
        label=_("Party codes are anonymised identifiers — do not check them as ЄДРПОУ/РНОКПП"),
        required=False,
        help_text=_(
            "Tick this for a file from another administration or a research data set whose trader, declarant, "
            "seller or buyer codes are opaque identifiers (such as QLRUBN9) rather than Ukrainian codes: they are "
            "loaded as written, never checked as ЄДРПОУ/РНОКПП and never taken for a person's tax number, and the "
            "same identifier is the same party. Leave it unticked for ЄДРПОУ/РНОКПП: they are checked, and a "
            "person's РНОКПП is masked."
        ),
    )

    save_as = forms.CharField(
        label=_("Save this mapping as"),
        max_length=200,
        required=False,
        help_text=_("Give it a name to reuse it: files with the same columns will be mapped the same way."),
    )

    def __init__(
        self,
        *args: Any,
        headers: Sequence[str],
        fields: Mapping[str, str],
        required: Sequence[str],
        initial_columns: Mapping[str, str],
        organization_id: int,
        kind: str,
        party_codes: bool = False,
        fixable: Mapping[str, Sequence[tuple[str, str | Promise]]] | None = None,
        initial_options: MappingOptions | None = None,
        **kwargs: Any,
    ) -> None:
        # The columns are labelled with the file's own headers, which read best as they are.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.headers = list(headers)
        self.field_labels = dict(fields)
        self.required_fields = [name for name in required if name in self.field_labels]
        self.organization_id = organization_id
        self.kind = kind
        choices: list[tuple[str, str | Promise]] = [("", _("— not loaded —"))]
        choices += [
            (name, f"{label} *" if name in self.required_fields else label) for name, label in self.field_labels.items()
        ]
        column_fields = {}
        for index, header in enumerate(self.headers):
            column_fields[self.column_name(index)] = forms.ChoiceField(
                label=header or _("(column %(number)d without a name)") % {"number": index + 1},
                choices=choices,
                required=False,
                initial=initial_columns.get(header, ""),
            )
        initial_options = initial_options or MappingOptions()
        option_fields: dict[str, forms.Field] = {}
        if party_codes:
            option_fields["party_codes"] = self.fields["party_codes"]
            option_fields["party_codes"].initial = initial_options.anonymised_party_codes
        self.fixable = dict(fixable or {})
        for name, values in self.fixable.items():
            label = self.field_labels.get(name, name)
            option_fields[self.fixed_name(name)] = forms.ChoiceField(
                label=_("%(field)s of every row") % {"field": label},
                choices=[("", _("— from a column —")), *values],
                required=False,
                initial=initial_options.fixed.get(name, ""),
                help_text=_("For a file without such a column: every row gets this value."),
            )
        # The columns first, in file order, then the options, then the name to save under.
        self.fields = {**column_fields, **option_fields, "save_as": self.fields["save_as"]}

    def _saved_names(self) -> set[str]:
        # Compared in Python: the database's case folding may not know Cyrillic (a C collation).
        names = ColumnMapping.objects.filter(organization_id=self.organization_id, kind=self.kind)
        return {name.casefold() for name in names.values_list("name", flat=True)}

    @staticmethod
    def column_name(index: int) -> str:
        return f"column_{index}"

    @staticmethod
    def fixed_name(field_name: str) -> str:
        return f"fixed_{field_name}"

    def column_fields(self) -> list[forms.BoundField]:
        return [self[self.column_name(index)] for index in range(len(self.headers))]

    def option_fields(self) -> list[forms.BoundField]:
        names = ["party_codes"] if "party_codes" in self.fields else []
        return [self[name] for name in [*names, *(self.fixed_name(field) for field in self.fixable)]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        columns: dict[str, str] = {}
        chosen_by: dict[str, list[str]] = {}
        for index, header in enumerate(self.headers):
            field = cleaned.get(self.column_name(index))
            if field:
                columns[header] = field
                chosen_by.setdefault(field, []).append(self.column_name(index))
        fixed = {name: value for name in self.fixable if (value := cleaned.get(self.fixed_name(name)))}
        for name in fixed:
            if name in chosen_by:
                self.add_error(
                    self.fixed_name(name),
                    _("“%(field)s” is also chosen for a column; keep either the column or this value.")
                    % {"field": self.field_labels[name]},
                )
        for field, names in chosen_by.items():
            if len(names) > 1:
                for name in names:
                    self.add_error(
                        name,
                        _("“%(field)s” is chosen for more than one column; choose it for one only.")
                        % {"field": self.field_labels[field]},
                    )
        missing = [
            self.field_labels[name] for name in self.required_fields if name not in chosen_by and name not in fixed
        ]
        if missing:
            raise forms.ValidationError(
                _("Choose a column for every required field: %(fields)s.") % {"fields": ", ".join(missing)},
                code="required_fields",
            )
        save_as = cleaned.get("save_as", "").strip()
        if save_as and save_as.casefold() in self._saved_names():
            self.add_error("save_as", _("Your organisation already has a mapping of this name; choose another."))
        cleaned["save_as"] = save_as
        cleaned["columns"] = columns
        cleaned["options"] = MappingOptions(
            party_codes=PartyCodes.ANONYMISED if cleaned.get("party_codes") else PartyCodes.TAX_CODES,
            fixed=fixed,
        )
        return cleaned
