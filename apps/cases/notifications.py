"""Telling people about their cases: in the page over the websocket, and by e-mail through Django's mail backend.

Both leave only after the sender's transaction commits (``apps.core.notifications`` for the socket, an on-commit
hook for the mail), so a refused or rolled-back change never announces itself. The socket text is rendered in each
reader's language; the e-mail in the site's language. Nobody is told about their own action.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from apps.core.notifications import notification_send_to_user

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.cases.models import Case

logger = logging.getLogger(__name__)

# The product's name, the same in every language.
EMAIL_SUBJECT_PREFIX = "[Nexus Core]"


def case_url(case: Case) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return reverse("cases:detail", args=[case.pk])


def _mail_on_commit(*, recipient: str, text: Promise | str, url: str) -> None:
    """Mail ``text`` with the absolute link (``SITE_URL`` + ``url``): a mail reader has no page to resolve it from."""

    def send() -> None:
        with translation.override(settings.LANGUAGE_CODE):
            subject = f"{EMAIL_SUBJECT_PREFIX} {text}"
            send_mail(subject, f"{text}\n\n{settings.SITE_URL}{url}\n", None, [recipient])

    transaction.on_commit(send, robust=True)


def case_notify(
    *,
    case: Case,
    users: Iterable[User | None],
    event: str,
    text: Promise | str,
    actor: User | None = None,
    level: str = "info",
) -> list[int]:
    """Notify each of ``users`` (once, the active ones, never ``actor``) about ``case``; the ids of those told."""
    url = case_url(case)
    told: list[int] = []
    for user in users:
        if user is None or not user.is_active or user.pk in told or (actor is not None and user.pk == actor.pk):
            continue
        told.append(user.pk)
        notification_send_to_user(
            user_id=user.pk,
            payload={"type": f"case.{event}", "level": level, "text": text, "url": url, "case": case.pk},
        )
        if user.email:
            _mail_on_commit(recipient=user.email, text=text, url=url)
    return told
