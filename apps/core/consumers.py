"""Live notifications over a websocket: the user's organisation and the user alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.translation import get_supported_language_variant

from apps.core.notifications import organization_group, user_group

# Anonymous, inactive and organisation-less users; the 4000s are the application's own close codes.
REFUSED_CLOSE_CODE = 4403
# "Service restart": clients reconnect, and the new connection joins the groups of the user's current membership.
SESSION_ENDED_CLOSE_CODE = 1012


def socket_language(scope: Mapping[str, Any]) -> str:
    """The page's language, passed as ``?language=``, else the language cookie, else the site's default.

    Pages take their language from the URL prefix, which a websocket URL does not carry, so the page says it.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    candidates = [*query.get("language", [])[:1], scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return get_supported_language_variant(candidate)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's organisation group and personal group; anonymous or organisation-less sockets are refused.

    Messages come from ``apps.core.notifications``.
    """

    groups_joined: list[str]
    language: str

    async def connect(self) -> None:
        user = self.scope.get("user")
        organization_id = await self._organization_id(user)
        if user is None or organization_id is None:
            await self.close(code=REFUSED_CLOSE_CODE)
            return
        self.language = socket_language(self.scope)
        self.groups_joined = [organization_group(organization_id), user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """The channel only speaks to the browser: what the client sends is neither parsed nor acted on."""

    async def notification_send(self, event: dict[str, Any]) -> None:
        payloads: dict[str, Any] = event["payloads"]
        await self.send_json(payloads.get(self.language) or payloads[settings.LANGUAGE_CODE])

    async def notification_session_end(self, event: dict[str, Any]) -> None:
        await self.close(code=SESSION_ENDED_CLOSE_CODE)

    @database_sync_to_async
    def _organization_id(self, user: Any) -> int | None:
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        organization = user.organization
        if organization is None or not organization.is_active:
            return None
        return int(organization.pk)
