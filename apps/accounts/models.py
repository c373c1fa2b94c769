from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.accounts.choices import Role
from apps.core.models import OrganizationScopedModel, TimeStampedModel
from apps.core.querysets import RestrictedManager, RestrictedQuerySet


class Organization(TimeStampedModel):
    """A tenant: an agency or a partner. Nothing crosses from one to another."""

    organization_field = "pk"

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

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
        return membership.organization if membership else None

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
