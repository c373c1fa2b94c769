from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.accounts.choices import ExportFormat, Role
from apps.core.models import OrganizationScopedModel, TimeStampedModel
from apps.core.querysets import RestrictedManager, RestrictedQuerySet


class Tier(TimeStampedModel):
    """A billing plan: how many queries a day, which export formats, personal data, API access.

    Seeded (free, pro, enterprise) by a data migration and edited by platform administrators in Django admin;
    ``apps.accounts.tiers`` reads it through a short-lived cache and enforces it on every surface.
    """

    slug = models.SlugField(_("slug"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Plans are listed from the lowest position up.")
    )
    daily_query_limit = models.PositiveIntegerField(
        _("queries a day"),
        null=True,
        blank=True,
        help_text=_("Page reads, searches, API calls and exports per organisation per day; empty means unlimited."),
    )
    pii_allowed = models.BooleanField(_("personal data may be unlocked"), default=False)
    export_formats = ArrayField(
        models.CharField(max_length=8, choices=ExportFormat.choices),
        verbose_name=_("export formats"),
        default=list,
        blank=True,
    )
    api_access = models.BooleanField(_("API access"), default=False)
    api_rate_per_minute = models.PositiveIntegerField(
        _("API requests a minute"), default=60, help_text=_("The partner API's rate limit per organisation.")
    )
    custom_models = models.BooleanField(_("custom models"), default=False)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("billing tier")
        verbose_name_plural = _("billing tiers")

    def __str__(self) -> str:
        return self.name


def default_tier_id() -> int | None:
    """The tier a new organisation starts on (``BILLING_DEFAULT_TIER``, free unless configured)."""
    return Tier.objects.filter(slug=settings.BILLING_DEFAULT_TIER).values_list("pk", flat=True).first()


class Organization(TimeStampedModel):
    """A tenant: an agency or a partner. Nothing crosses from one to another."""

    organization_field = "pk"

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        default=default_tier_id,
        related_name="organizations",
        verbose_name=_("billing tier"),
    )

    objects = RestrictedManager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class UserManager(DjangoUserManager.from_queryset(RestrictedQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    """A person or a partner's service account; belongs to at most one organisation (see Membership)."""

    organization_field = "membership__organization"
    oidc_subject = models.CharField(
        _("SSO subject"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The identity provider's stable identifier of this user (the `sub` claim)."),
    )

    objects: ClassVar[UserManager] = UserManager()

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [
            ("view_pii", _("Can unlock and view personal data")),
            ("export_pii", _("Can export personal data unmasked")),
        ]

    @property
    def membership_or_none(self) -> Membership | None:
        try:
            return self.membership
        except Membership.DoesNotExist:
            return None

    @property
    def organization_id(self) -> int | None:
        membership = self.membership_or_none
        return membership.organization_id if membership else None

    @property
    def organization(self) -> Organization | None:
        membership = self.membership_or_none
        if membership is None:
            return None
        if not Membership.organization.is_cached(membership):
            # The tier comes along in the same query: the billing gate reads it on every request.
            membership.organization = Organization.objects.select_related("tier").get(pk=membership.organization_id)
        return membership.organization

    @property
    def role(self) -> str | None:
        membership = self.membership_or_none
        return membership.role if membership else None


class Membership(OrganizationScopedModel):
    """A user's place in an organisation. One organisation per user; the role decides the user's groups."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership", verbose_name=_("user")
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("organisation")
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)

    class Meta:
        ordering = ["organization__name", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"


class ApiKey(OrganizationScopedModel):
    """A partner's API key. Only a SHA-256 of the secret is stored; the key is shown once, at creation."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("organisation")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("acts as"),
        help_text=_("Requests made with this key act as this user, with this user's permissions."),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
