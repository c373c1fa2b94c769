"""What an unlock of an object discloses: its personal fields and the masking tokens in them.

An app registers a provider for its model (``pii_target_register``) when the object's personal data lives in
related rows (an entity's names and identifiers, a dataset's records); any other model discloses the tokens found
in its own text fields. The tokens are kept on the disclosure record, so the reveal shows exactly what was
disclosed and nothing the page happens to show beside it (another person in the same record stays masked).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models

from apps.privacy.masking import MASK_PREFIX

# A masking token anywhere in a text: ``PII-<kind>-<base32>`` (apps.privacy.masking).
TOKEN_PATTERN = re.compile(rf"\b{MASK_PREFIX}-[a-z]+-[A-Z2-7]+\b")

TokenProvider = Callable[[Any, Any], dict[str, list[str]]]
_providers: dict[str, TokenProvider] = {}


def tokens_in(values: Iterable[Any]) -> list[str]:
    """Every masking token in ``values`` (strings, lists of strings), in order, once each."""
    found: dict[str, None] = {}
    for value in values:
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, str):
                found.update(dict.fromkeys(TOKEN_PATTERN.findall(item)))
    return list(found)


def pii_target_register(model: type[models.Model], provider: TokenProvider) -> None:
    """``provider(obj, user)`` returns ``{field label: [tokens]}`` for an object of ``model``."""
    _providers[model._meta.label_lower] = provider


def _own_fields(obj: models.Model, user: Any) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for field in obj._meta.concrete_fields:
        if not isinstance(field, models.CharField | models.TextField | models.JSONField):
            continue
        if tokens := tokens_in([field.value_from_object(obj)]):
            fields[field.name] = tokens
    return fields


def pii_target_tokens(*, target: models.Model, user: Any) -> dict[str, list[str]]:
    """``{field: [tokens]}`` an unlock of ``target`` by ``user`` discloses; empty fields are left out."""
    provider = _providers.get(target._meta.label_lower, _own_fields)
    return {field: tokens for field, tokens in provider(target, user).items() if tokens}


def _entity_tokens(entity: Any, user: Any) -> dict[str, list[str]]:
    from apps.entities import selectors

    attributes = selectors.entity_attributes(entity)
    return {
        "name": tokens_in([entity.name]),
        "names": tokens_in(selectors.entity_names(user=user, entity=entity).values_list("name", flat=True)),
        "identifiers": tokens_in(
            selectors.entity_identifiers(user=user, entity=entity).values_list("value", flat=True)
        ),
        **{name: tokens_in(values) for name, values in attributes.items()},
    }


# The records a dataset page previews (apps.datasets.views.PREVIEW_ROWS); an unlock discloses these, not the file.
DATASET_PREVIEW_ROWS = 10


def _dataset_tokens(dataset: Any, user: Any) -> dict[str, list[str]]:
    from apps.datasets import selectors
    from apps.datasets.models import RECORD_MODELS

    model = RECORD_MODELS[dataset.kind]
    text_fields = [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]
    rows = (
        selectors.record_list(user=user, kind=dataset.kind, dataset=dataset)
        .order_by("row_number")
        .values_list(*text_fields)[:DATASET_PREVIEW_ROWS]
    )
    fields: dict[str, list[str]] = {}
    for row in rows:
        for name, value in zip(text_fields, row, strict=True):
            fields.setdefault(name, [])
            fields[name] += [token for token in tokens_in([value]) if token not in fields[name]]
    return fields


def register_default_providers() -> None:
    from apps.datasets.models import Dataset
    from apps.entities.models import Entity

    pii_target_register(Entity, _entity_tokens)
    pii_target_register(Dataset, _dataset_tokens)
