"""`make run`'s pieces: the demo data is complete and reusable, the web port falls back when taken."""

from __future__ import annotations

import io
import socket

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from apps.accounts.choices import Role
from apps.accounts.management.commands.demo_load import DEMO_PASSWORD, DEMO_USERS, SUPERUSER
from apps.accounts.models import ApiKey, User
from apps.core.management.commands.run import free_port


@pytest.mark.django_db
def test_demo_load_creates_one_user_per_role_and_can_run_again() -> None:
    first = io.StringIO()
    call_command("demo_load", stdout=first)
    second = io.StringIO()
    call_command("demo_load", stdout=second)

    roles = {user.role for user in User.objects.filter(username__in=[u[0] for u in DEMO_USERS])}
    assert roles == set(Role.values)
    for username, role, *_rest in DEMO_USERS:
        user = authenticate(username=username, password=DEMO_PASSWORD)
        assert user is not None
        assert user.role == role
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert User.objects.get(username=SUPERUSER).is_superuser
    assert ApiKey.objects.filter(user__username="partner", revoked_at__isnull=True).count() == 1
    assert "nxs_" in first.getvalue(), "the partner key is printed the first time"
    assert "nxs_" not in second.getvalue(), "and never again"
    for username, *_rest in DEMO_USERS:
        assert username in second.getvalue()


def test_free_port_skips_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]

        assert free_port(port) != port
