from rest_framework import serializers

from apps.accounts.models import Organization, User


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "is_active", "created_at"]


class MeSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)
    role = serializers.CharField(read_only=True)
    authenticated_by = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "organization", "role", "authenticated_by"]

    def get_authenticated_by(self, user: User) -> str:
        authenticator = self.context["request"].successful_authenticator
        return type(authenticator).__name__ if authenticator else ""
