"""The notification socket through the real ASGI stack: origin check, session auth, Redis channel layer.

Every test is transactional: the consumer reads the session and the membership on its own database connection,
and notifications leave only when a transaction commits.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils.translation import gettext_lazy as _

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.accounts.services import membership_set
from apps.core.consumers import REFUSED_CLOSE_CODE, SESSION_ENDED_CLOSE_CODE
from apps.core.notifications import (
    notification_send_to_organization,
    notification_send_to_user,
)
from nexus.asgi import application
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/notifications/"
ORIGIN = b"http://localhost:8000"
TIMEOUT = 3
# Long enough for a message already on its way through Redis to arrive; asserted silences wait this long.
QUIET = 0.5


class Rollback(Exception):
    pass


def session_cookie(user: User) -> bytes:
    """Log in as a browser does and return the Cookie header value carrying the session."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def communicator_for(cookie: bytes | None, *, origin: bytes | None = ORIGIN, query: str = "") -> WebsocketCommunicator:
    headers = [(b"host", b"localhost:8000")]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, f"{PATH}{query}", headers=headers)


@contextlib.asynccontextmanager
async def open_socket(cookie: bytes, *, query: str = "") -> AsyncIterator[WebsocketCommunicator]:
    communicator = communicator_for(cookie, query=query)
    connected, code = await communicator.connect(timeout=TIMEOUT)
    assert connected, f"refused with {code}"
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def refusal_code(communicator: WebsocketCommunicator) -> int:
    connected, code = await communicator.connect(timeout=TIMEOUT)
    assert not connected
    await communicator.disconnect()
    return int(code)


def note(text: str) -> dict[str, Any]:
    return {"type": "info", "text": text}


@pytest.fixture
def investigator_cookie(investigator: User) -> bytes:
    return session_cookie(investigator)


@pytest.fixture
def supervisor_cookie(supervisor: User) -> bytes:
    return session_cookie(supervisor)


@pytest.fixture
def outsider_cookie(outsider: User) -> bytes:
    return session_cookie(outsider)


send_to_organization = database_sync_to_async(notification_send_to_organization)
send_to_user = database_sync_to_async(notification_send_to_user)


async def test_anonymous_socket_is_refused() -> None:
    assert await refusal_code(communicator_for(None)) == REFUSED_CLOSE_CODE


async def test_a_forged_session_cookie_is_refused() -> None:
    cookie = f"{settings.SESSION_COOKIE_NAME}=not-a-session-key".encode()

    assert await refusal_code(communicator_for(cookie)) == REFUSED_CLOSE_CODE


async def test_user_without_organisation_is_refused() -> None:
    user = await database_sync_to_async(UserFactory)(username="loner")
    cookie = await database_sync_to_async(session_cookie)(user)

    assert await refusal_code(communicator_for(cookie)) == REFUSED_CLOSE_CODE


async def test_member_of_a_deactivated_organisation_is_refused(
    organization: Organization, investigator_cookie: bytes
) -> None:
    async with open_socket(investigator_cookie):
        pass
    await database_sync_to_async(Organization.objects.filter(pk=organization.pk).update)(is_active=False)

    assert await refusal_code(communicator_for(investigator_cookie)) == REFUSED_CLOSE_CODE


@pytest.mark.parametrize(
    "origin",
    [b"https://evil.example", b"http://localhost.evil.example", b"null", None],
    ids=["other site", "look-alike host", "opaque origin", "no origin"],
)
async def test_foreign_or_missing_origin_is_refused_even_with_a_valid_session(
    investigator_cookie: bytes, origin: bytes | None
) -> None:
    """A page on another site must not open a socket riding on the user's session cookie."""
    connected, _code = await communicator_for(investigator_cookie, origin=origin).connect(TIMEOUT)
    assert not connected
    async with open_socket(investigator_cookie):
        pass  # the same session from the site's own origin is let in


async def test_members_receive_their_organisations_notifications_and_outsiders_do_not(
    organization: Organization,
    other_organization: Organization,
    investigator_cookie: bytes,
    supervisor_cookie: bytes,
    outsider_cookie: bytes,
) -> None:
    async with (
        open_socket(investigator_cookie) as investigator_socket,
        open_socket(supervisor_cookie) as supervisor_socket,
        open_socket(outsider_cookie) as outsider_socket,
    ):
        await send_to_organization(organization_id=organization.pk, payload=note("Дані завантажено"))

        expected = {"type": "info", "text": "Дані завантажено"}
        assert await investigator_socket.receive_json_from(TIMEOUT) == expected
        assert await supervisor_socket.receive_json_from(TIMEOUT) == expected
        assert await outsider_socket.receive_nothing(QUIET)

        # The outsider's socket is live: it hears its own organisation, and only that.
        await send_to_organization(organization_id=other_organization.pk, payload=note("Odesa only"))
        assert (await outsider_socket.receive_json_from(TIMEOUT))["text"] == "Odesa only"
        assert await investigator_socket.receive_nothing(QUIET)


async def test_personal_notifications_reach_only_their_user(
    investigator: User, investigator_cookie: bytes, supervisor_cookie: bytes, outsider_cookie: bytes
) -> None:
    async with (
        open_socket(investigator_cookie) as investigator_socket,
        open_socket(investigator_cookie) as second_tab,
        open_socket(supervisor_cookie) as supervisor_socket,
        open_socket(outsider_cookie) as outsider_socket,
    ):
        payload = {"type": "case.assigned", "text": "Вам призначено справу", "url": "/cases/7/"}
        await send_to_user(user_id=investigator.pk, payload=payload)

        assert await investigator_socket.receive_json_from(TIMEOUT) == payload
        assert await second_tab.receive_json_from(TIMEOUT) == payload
        assert await supervisor_socket.receive_nothing(QUIET)
        assert await outsider_socket.receive_nothing(QUIET)


async def test_what_the_client_sends_is_ignored_and_the_socket_stays_open(
    investigator: User, investigator_cookie: bytes
) -> None:
    async with open_socket(investigator_cookie) as investigator_socket:
        await investigator_socket.send_to(text_data="not json {")
        await investigator_socket.send_json_to({"type": "notification.send", "payloads": {"en": note("forged")}})
        assert await investigator_socket.receive_nothing(QUIET)

        await send_to_user(user_id=investigator.pk, payload=note("still here"))
        assert (await investigator_socket.receive_json_from(TIMEOUT))["text"] == "still here"


async def test_text_is_rendered_in_each_sockets_language(organization: Organization, supervisor: User) -> None:
    ukrainian_cookie = await database_sync_to_async(session_cookie)(supervisor)
    english_cookie = ukrainian_cookie + f"; {settings.LANGUAGE_COOKIE_NAME}=en".encode()
    # A Django message with a Ukrainian translation in Django's own catalogue.
    payload = {"type": "warning", "text": _("This field is required."), "details": [_("This field is required.")]}

    async with (
        open_socket(ukrainian_cookie, query="?language=uk") as ukrainian,
        open_socket(english_cookie) as english,
        open_socket(english_cookie, query="?language=uk") as page_wins_over_cookie,
    ):
        await send_to_organization(organization_id=organization.pk, payload=payload)

        assert await ukrainian.receive_json_from(TIMEOUT) == {
            "type": "warning",
            "text": "Це поле обов'язкове.",
            "details": ["Це поле обов'язкове."],
        }
        assert (await english.receive_json_from(TIMEOUT))["text"] == "This field is required."
        assert (await page_wins_over_cookie.receive_json_from(TIMEOUT))["text"] == "Це поле обов'язкове."


async def test_nothing_is_sent_before_the_commit_or_after_a_rollback(
    organization: Organization, investigator_cookie: bytes
) -> None:
    async with open_socket(investigator_cookie) as investigator_socket:

        def send_then_roll_back() -> None:
            with contextlib.suppress(Rollback), transaction.atomic():
                notification_send_to_organization(organization_id=organization.pk, payload=note("rolled back"))
                raise Rollback

        def send_and_listen_before_commit() -> bool:
            with transaction.atomic():
                notification_send_to_organization(organization_id=organization.pk, payload=note("committed"))
                return bool(async_to_sync(investigator_socket.receive_nothing)(QUIET))

        await database_sync_to_async(send_then_roll_back)()
        assert await database_sync_to_async(send_and_listen_before_commit)(), "sent before the commit"

        # Messages on one channel arrive in order, so had the rolled-back one been sent it would come first.
        assert (await investigator_socket.receive_json_from(TIMEOUT))["text"] == "committed"
        assert await investigator_socket.receive_nothing(QUIET)


def test_a_notification_without_type_or_text_fails_in_the_senders_code(organization: Organization) -> None:
    with pytest.raises(ValueError, match="type"):
        notification_send_to_organization(organization_id=organization.pk, payload={"text": "no type"})
    with pytest.raises(ValueError, match="text"):
        notification_send_to_organization(organization_id=organization.pk, payload={"type": "info"})
    with pytest.raises(TypeError):
        notification_send_to_organization(organization_id=organization.pk, payload={**note("x"), "at": object()})


def test_an_unreachable_channel_layer_does_not_fail_the_committed_write(
    organization: Organization, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
            }
        }
        with transaction.atomic():
            Organization.objects.filter(pk=organization.pk).update(name="Renamed")
            notification_send_to_organization(organization_id=organization.pk, payload=note("lost"))

    assert Organization.objects.get(pk=organization.pk).name == "Renamed"
    assert any("on_commit" in record.getMessage() for record in caplog.records), caplog.text


async def test_a_move_to_another_organisation_reconnects_the_users_sockets_into_it(
    organization: Organization,
    other_organization: Organization,
    investigator: User,
    investigator_cookie: bytes,
    supervisor_cookie: bytes,
) -> None:
    investigator_socket = communicator_for(investigator_cookie)
    assert (await investigator_socket.connect(TIMEOUT))[0]
    async with open_socket(supervisor_cookie) as supervisor_socket:

        def move_to_other_organization() -> None:
            with transaction.atomic():
                membership_set(user=investigator, organization=other_organization, role=Role.INVESTIGATOR)

        await database_sync_to_async(move_to_other_organization)()

        closed = await investigator_socket.receive_output(TIMEOUT)
        assert closed == {"type": "websocket.close", "code": SESSION_ENDED_CLOSE_CODE}
        assert await supervisor_socket.receive_nothing(QUIET), "only the moved user's sockets are closed"
    await investigator_socket.disconnect()

    async with open_socket(investigator_cookie) as reconnected:
        await send_to_organization(organization_id=organization.pk, payload=note("old organisation"))
        await send_to_organization(organization_id=other_organization.pk, payload=note("new organisation"))

        # In order: had the old organisation's message been delivered, it would come first.
        assert (await reconnected.receive_json_from(TIMEOUT))["text"] == "new organisation"


@pytest.mark.parametrize("leave", ["logout", "deactivate", "remove_membership"])
async def test_leaving_closes_the_users_open_sockets(
    investigator: User, investigator_cookie: bytes, leave: str
) -> None:
    def act() -> None:
        if leave == "logout":
            client = Client()
            client.force_login(investigator)
            client.post("/accounts/logout/")
        elif leave == "deactivate":
            investigator.is_active = False
            investigator.save()
        else:
            investigator.membership.delete()

    async with open_socket(investigator_cookie) as investigator_socket:
        await database_sync_to_async(act)()

        closed = await investigator_socket.receive_output(TIMEOUT)
        assert closed == {"type": "websocket.close", "code": SESSION_ENDED_CLOSE_CODE}
