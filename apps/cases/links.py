"""Signed, expiring download links for case reports.

The link carries the export and the user it was issued to, signed with the secret key and timestamped; it is
refused once ``CASE_EXPORT_LINK_SECONDS`` have passed or if anything in it was changed. It needs no session, so a
partner's system can follow it too, but the download still checks that the user may see the case at that moment.
On S3 the same role is played by a pre-signed URL; on the embedded filesystem storage, by this.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from apps.cases.models import CaseExport

SALT = "apps.cases.export-link"
DEFAULT_MAX_AGE_SECONDS = 15 * 60


def export_link_max_age() -> int:
    return int(getattr(settings, "CASE_EXPORT_LINK_SECONDS", DEFAULT_MAX_AGE_SECONDS))


@dataclass(frozen=True)
class ExportLink:
    export_id: int
    user_id: int


def export_link_sign(*, export: CaseExport, user_id: int) -> str:
    """The path of a download link for ``export``, issued to ``user_id``."""
    token = signing.TimestampSigner(salt=SALT).sign_object({"export": export.pk, "user": user_id}, compress=False)
    return reverse("cases:export-download", args=[token])


def export_link_read(token: str) -> ExportLink:
    """What a link names; ``signing.BadSignature`` (``SignatureExpired`` included) when it is forged or too old."""
    value = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=export_link_max_age())
    if not isinstance(value, dict):
        raise signing.BadSignature("not an export link")
    try:
        return ExportLink(export_id=int(value["export"]), user_id=int(value["user"]))
    except (KeyError, TypeError, ValueError):
        raise signing.BadSignature("not an export link") from None
