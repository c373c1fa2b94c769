"""Live notifications over the Channels layer, sent only once the sender's transaction has committed.

A notification is a JSON object with a ``type`` and a ``text`` (and whatever else the page needs, e.g. ``level``
and ``url``). Text is rendered on the server: pass ``gettext_lazy`` strings (``format_lazy`` for parameters) and
each socket receives the payload in its own language, so one organisation-wide event reaches a Ukrainian and an
English reader alike. Like Zulip's ``send_event_on_commit``, nothing leaves before the commit, so a rolled-back
change never announces itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise

# The handler on NotificationConsumer that each message type reaches ("notification.send" -> notification_send).
NOTIFICATION_MESSAGE = "notification.send"
SESSION_END_MESSAGE = "notification.session_end"


def organization_group(organization_id: int) -> str:
    return f"org-{organization_id}.notifications"


def user_group(user_id: int) -> str:
    return f"user-{user_id}.notifications"


def _render(value: Any) -> Any:
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _render(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item) for item in value]
    return value


def notification_render(*, payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The payload in every language of the site, keyed by language code."""
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        raise ValueError("a notification needs a non-empty string 'type'")
    if "text" not in payload:
        raise ValueError("a notification needs a 'text'")
    rendered: dict[str, dict[str, Any]] = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            rendered[language] = _render(payload)
    # Fails here, in the sender's code, rather than later inside the commit hook.
    json.dumps(rendered)
    return rendered


def _group_send_on_commit(*, group: str, message: dict[str, Any]) -> None:
    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(group, message)

    # A notification is best effort: once the data is committed, an unreachable channel layer is logged
    # (robust=True) instead of turning the caller's successful write into an error.
    transaction.on_commit(send, robust=True)


def notification_send_to_organization(*, organization_id: int, payload: Mapping[str, Any]) -> None:
    """Notify every open socket of the organisation's members, after the current transaction commits."""
    message = {"type": NOTIFICATION_MESSAGE, "payloads": notification_render(payload=payload)}
    _group_send_on_commit(group=organization_group(organization_id), message=message)


def notification_send_to_user(*, user_id: int, payload: Mapping[str, Any]) -> None:
    """Notify every open socket of one user, after the current transaction commits."""
    message = {"type": NOTIFICATION_MESSAGE, "payloads": notification_render(payload=payload)}
    _group_send_on_commit(group=user_group(user_id), message=message)


def notification_sessions_end(*, user_id: int) -> None:
    """Close the user's open sockets after the commit, so they reconnect under the user's current membership.

    Call it when a user moves to another organisation or leaves one, is deactivated, or logs out:
    an open socket keeps the groups it joined at connect time until then.
    """
    _group_send_on_commit(group=user_group(user_id), message={"type": SESSION_END_MESSAGE})
