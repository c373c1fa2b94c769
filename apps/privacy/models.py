"""The PII vault: the clear value behind every masking token, encrypted, kept per organisation."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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
