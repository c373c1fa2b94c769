"""The disclosure records over the API, and the ``unlocked`` field other serializers add to reveal an object's
personal data while the caller holds a live unlock of it."""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.db.models import Model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.privacy.models import PIIDisclosure
from apps.privacy.selectors import pii_reveal_map
from apps.privacy.services import REASON_MAX_LENGTH


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "additionalProperties": {"type": "string"},
        "description": "While the caller holds a live unlock of this object: the clear value of each masking token "
        "it disclosed. Null otherwise.",
    }
)
class PIIUnlockedField(serializers.Field[Any, Any, Any, Any]):
    """``{token: clear value}`` of the object while the caller's unlock of it is live, else ``null``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "*")
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Model) -> dict[str, str] | None:
        request = self.context.get("request")
        if request is None:
            return None
        return pii_reveal_map(user=request.user, target=value) or None


class PIIDisclosureSerializer(serializers.ModelSerializer[PIIDisclosure]):
    target_type = serializers.SerializerMethodField(help_text=_("The kind of object, as app_label.model."))
    unlocked = serializers.SerializerMethodField(
        help_text=_("The disclosed clear values, while this is the caller's own live unlock; null otherwise.")
    )

    class Meta:
        model = PIIDisclosure
        fields = [
            "id", "username", "created_at", "expires_at", "reason", "target_type", "object_id", "object_label",
            "fields", "tokens", "unlocked",
        ]  # fmt: skip
        read_only_fields = fields

    def get_target_type(self, obj: PIIDisclosure) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_unlocked(self, obj: PIIDisclosure) -> dict[str, str] | None:
        request = self.context.get("request")
        if request is None or obj.user_id != request.user.pk or not obj.is_live or obj.target is None:
            return None
        return pii_reveal_map(user=request.user, target=obj.target) or None


class PIIUnlockSerializer(serializers.Serializer[Any]):
    target_type = serializers.CharField(help_text=_("The kind of object, as app_label.model: entities.entity."))
    object_id = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)

    def validate_target_type(self, value: str) -> str:
        try:
            django_apps.get_model(value)
        except (LookupError, ValueError):
            raise serializers.ValidationError(_("Unknown kind of object.")) from None
        return value.lower()
