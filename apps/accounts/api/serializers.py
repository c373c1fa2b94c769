from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication

from apps.accounts.api.authentication import ApiKeyAuthentication, BearerTokenAuthentication
from apps.accounts.choices import Role
from apps.accounts.models import Organization, User

# How the API names each way in; stable for partners, unlike the class names behind them.
AUTHENTICATION_METHODS = [
    (ApiKeyAuthentication, "api_key"),
    (BearerTokenAuthentication, "bearer"),
    (SessionAuthentication, "session"),
]


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "is_active", "created_at"]


class MeSerializer(serializers.ModelSerializer[User]):
    organization = OrganizationSerializer(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    authenticated_by = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "organization", "role", "authenticated_by"]

    @extend_schema_field(serializers.ChoiceField(choices=[method for _cls, method in AUTHENTICATION_METHODS]))
    def get_authenticated_by(self, user: User) -> str:
        authenticator = self.context["request"].successful_authenticator
        for authentication_class, method in AUTHENTICATION_METHODS:
            if isinstance(authenticator, authentication_class):
                return method
        raise ImproperlyConfigured(f"{type(authenticator).__name__} is missing from AUTHENTICATION_METHODS")
