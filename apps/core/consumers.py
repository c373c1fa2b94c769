"""Per-organisation notifications over a websocket."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer


def organization_group(organization_id: int) -> str:
    return f"org-{organization_id}.notifications"


def user_group(user_id: int) -> str:
    return f"user-{user_id}.notifications"


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's organisation group and personal group; anonymous or organisation-less sockets are refused."""

    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        organization_id = await self._organization_id(user)
        if organization_id is None:
            await self.close(code=4403)
            return
        self.groups_joined = [organization_group(organization_id), user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def notify(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])

    @database_sync_to_async
    def _organization_id(self, user: Any) -> int | None:
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        organization = user.organization
        if organization is None or not organization.is_active:
            return None
        return int(organization.pk)
