from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.accounts import services
from apps.accounts.models import ApiKey, Membership, Organization, Tier, User, default_tier_id
from apps.core.admin import OrganizationScopedAdmin

# What only a platform superuser may change on a user: granting these is how privileges would escalate.
PRIVILEGED_USER_FIELDS = ["is_superuser", "is_staff", "groups", "user_permissions", "oidc_subject"]


class MembershipInline(admin.StackedInline[Membership, User]):
    model = Membership
    fk_name = "user"
    extra = 0
    max_num = 1

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organization":
            kwargs["queryset"] = Organization.objects.restrict(request.user, "view")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    list_display = ["name", "slug", "tier", "is_active", "member_count", "created_at"]
    list_filter = ["is_active", "tier"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["tier"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # An organisation's own administrator must not move it to a better plan.
            readonly.append("tier")
        return readonly

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "tier" in form.base_fields:
            # Left empty, a new organisation starts on the default tier (BILLING_DEFAULT_TIER).
            form.base_fields["tier"].required = False
        return form

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        if obj.tier_id is None:
            obj.tier_id = default_tier_id()
        super().save_model(request, obj, form, change)

    @admin.display(description=_("members"))
    def member_count(self, obj: Organization) -> int:
        return obj.memberships.count()


@admin.register(User)
class UserAdmin(OrganizationScopedAdmin, DjangoUserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "email", "organization_name", "role_name", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "membership__role"]
    search_fields = ["username", "email", "first_name", "last_name"]
    list_select_related = ["membership__organization"]
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Single sign-on"), {"fields": ["oidc_subject"]}))  # type: ignore[misc]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += PRIVILEGED_USER_FIELDS
        return readonly

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser:
            filters.append("membership__organization")
        return filters

    @admin.display(description=_("organisation"), ordering="membership__organization__name")
    def organization_name(self, obj: User) -> str:
        return str(obj.organization or "—")

    @admin.display(description=_("role"), ordering="membership__role")
    def role_name(self, obj: User) -> str:
        membership = obj.membership_or_none
        return str(membership.get_role_display()) if membership else "—"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        membership = Membership.objects.filter(user=form.instance).first()
        if membership is not None:
            # Keep the role's groups and the staff flag in step with an edit made through the inline.
            services.membership_set(user=form.instance, organization=membership.organization, role=membership.role)


@admin.register(Membership)
class MembershipAdmin(OrganizationScopedAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        services.membership_set(user=obj.user, organization=obj.organization, role=obj.role)


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    list_display = ["name", "prefix", "organization", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["organization", "user", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", *readonly_fields]
    list_select_related = ["organization", "user"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are issued on the API keys page, the only place that shows the secret, once.
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=api_key)
            revoked += 1
        messages.success(request, _("Revoked %(count)d keys.") % {"count": revoked})


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin[Tier]):
    """Plans are the platform's: only superusers (who hold the model permissions) edit them."""

    list_display = [
        "name", "slug", "daily_query_limit", "pii_allowed", "export_formats", "api_access", "api_rate_per_minute",
        "custom_models", "organization_count",
    ]  # fmt: skip
    list_editable = ["daily_query_limit", "pii_allowed", "api_access", "api_rate_per_minute", "custom_models"]
    search_fields = ["name", "slug"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return super().get_queryset(request).annotate(organization_total=Count("organizations"))

    @admin.display(description=_("organisations"), ordering="organization_total")
    def organization_count(self, obj: Tier) -> int:
        return int(obj.organization_total)  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: Tier | None = None) -> bool:
        # A tier with organisations on it is protected by the database anyway; an empty one may go.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.organizations.exists())
