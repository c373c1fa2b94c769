"""The PII vault (the clear value behind every masking token, encrypted, per organisation) and the audited
record of every unlock."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.querysets import RestrictedManager


class PIIVaultEntry(models.Model):
    """One personal value an organisation's data holds, encrypted (``apps.privacy.vault``).

    Records carry the token only; the clear value is read back only by the audited unlock and by matching inside
    the product (entity resolution), never shown on a surface by itself. Written by the loader with COPY, in the
    transaction that loads the dataset the value came from.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    token = models.CharField(_("token"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8)
    ciphertext = models.BinaryField(_("encrypted value"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("personal value")
        verbose_name_plural = _("personal values")
        constraints = [
            models.UniqueConstraint(fields=["organization", "token"], name="privacy_vault_unique_token"),
        ]

    def __str__(self) -> str:
        return self.token


class DisclosureImmutable(Exception):
    """A disclosure record is written once and never changed or deleted by the product (only purged by age)."""


class PIIDisclosure(models.Model):
    """One audited unlock: who saw which object's personal data, when, why, and which fields.

    The record names the object by content type and id and keeps the masking tokens it disclosed, never a clear
    value. It cannot be changed or deleted through the product; ``pii_disclosure_purge`` removes records older
    than ``PII_DISCLOSURE_RETENTION_DAYS``.
    """

    organization_field = "organization"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("user"),
    )
    # Kept as written: the record still says who it was after the account is deleted.
    username = models.CharField(_("username"), max_length=150)
    created_at = models.DateTimeField(_("unlocked at"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("visible until"))
    reason = models.TextField(_("reason"))
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, verbose_name=_("kind of object"))
    object_id = models.CharField(_("object id"), max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    # "Entity №12": never the object's own text, which may itself be personal data.
    object_label = models.CharField(_("object"), max_length=200)
    fields = models.JSONField(_("fields"), default=list)
    tokens = models.JSONField(_("disclosed tokens"), default=list)

    objects = RestrictedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("personal data disclosure")
        verbose_name_plural = _("personal data disclosures")
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["content_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.username} · {self.object_label} · {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise DisclosureImmutable("a personal data disclosure cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise DisclosureImmutable("a personal data disclosure cannot be deleted")

    @property
    def is_live(self) -> bool:
        return self.expires_at > timezone.now()
