"""Demo organisations and one user per role, for ``make run``. Safe to run again: it reuses what exists."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.choices import Role
from apps.accounts.models import ApiKey, Organization, Tier, User
from apps.accounts.services import api_key_create, membership_set, organization_create

DEMO_PASSWORD = "nexus-demo"  # noqa: S105 - printed for the demo on purpose; never used outside `make run`
DEMO_ORGANIZATION = ("Демонстраційна митниця", "demo-customs")
PARTNER_ORGANIZATION = ("Партнерське відомство", "demo-partner")
DEMO_USERS = [
    ("investigator", Role.INVESTIGATOR, DEMO_ORGANIZATION, "Олена", "Коваленко"),
    ("supervisor", Role.SUPERVISOR, DEMO_ORGANIZATION, "Андрій", "Шевчук"),
    ("orgadmin", Role.ADMIN, DEMO_ORGANIZATION, "Ірина", "Бондар"),
    ("partner", Role.PARTNER, PARTNER_ORGANIZATION, "Partner", "Service"),
]
SUPERUSER = "platform"


class Command(BaseCommand):
    help = "Create the demo organisations and users (one per role) and print their logins."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        # The demo shows every feature: personal-data unlocks, all export formats, the partner API.
        enterprise = Tier.objects.get(slug="enterprise")
        organizations = {
            slug: Organization.objects.filter(slug=slug).first()
            or organization_create(name=name, slug=slug, tier=enterprise)
            for name, slug in (DEMO_ORGANIZATION, PARTNER_ORGANIZATION)
        }
        rows: list[tuple[str, str, str]] = []
        for username, role, (_name, slug), first_name, last_name in DEMO_USERS:
            user = self._user(username, first_name=first_name, last_name=last_name)
            membership_set(user=user, organization=organizations[slug], role=role)
            rows.append((username, str(role.label), organizations[slug].name))
        platform = self._user(SUPERUSER, first_name="Platform", last_name="Operator")
        if not platform.is_superuser:
            platform.is_superuser = platform.is_staff = True
            platform.save(update_fields=["is_superuser", "is_staff"])
        rows.append((SUPERUSER, "superuser (Django admin)", "—"))

        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, role_label, organization in rows:
            self.stdout.write(f"  {username:<14} {role_label:<26} {organization}")

        partner = User.objects.get(username="partner")
        if not ApiKey.objects.filter(user=partner, revoked_at__isnull=True).exists():
            issued = api_key_create(user=partner, name="Demo partner key")
            self.stdout.write(f"\nDemo partner API key (shown once): {issued.raw_key}")
            self.stdout.write("  send it as  Authorization: Api-Key <key>  to /api/v1/")

    @staticmethod
    def _user(username: str, **names: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=DEMO_PASSWORD, **names)
        return user
