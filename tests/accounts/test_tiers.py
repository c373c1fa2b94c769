"""Billing tiers on real Redis: the seeded plans, the daily quota on pages, fragments, the API and exports, the API's
access and rate per tier, the friendly page and 429 with Retry-After, and the usage and plans pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.choices import Role
from apps.accounts.middleware import TierQuotaMiddleware
from apps.accounts.models import Organization, Tier, User
from apps.accounts.services import organization_create
from apps.accounts.tiers import (
    QuotaExceeded,
    Surface,
    TierRefused,
    quota_consume,
    tier_export_allowed,
    tier_export_check,
    tier_limits,
    usage_for_day,
)
from tests.api_testing import api_key_client
from tests.factories import UserFactory, member

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def on_tier(organization: Organization, slug: str, **changes: Any) -> Tier:
    tier = Tier.objects.get(slug=slug)
    for name, value in changes.items():
        setattr(tier, name, value)
    tier.save()
    organization.tier = tier
    organization.save()
    return tier


def test_the_seeded_plans_are_those_of_the_brief(db: None) -> None:
    plans = {
        tier.slug: (tier.daily_query_limit, tier.pii_allowed, sorted(tier.export_formats), tier.api_access)
        for tier in Tier.objects.all()
    }
    assert plans == {
        "free": (100, False, ["csv"], False),
        "pro": (10_000, True, ["csv", "pdf", "pptx"], False),
        "enterprise": (None, True, ["csv", "pdf", "pptx", "xlsx"], True),
    }


def test_a_new_organisation_starts_on_the_default_tier(db: None, settings: Any) -> None:
    assert organization_create(name="Львівська митниця").tier.slug == "free"
    settings.BILLING_DEFAULT_TIER = "pro"
    assert organization_create(name="Волинська митниця").tier.slug == "pro"


def test_export_formats_follow_the_tier(organization: Organization) -> None:
    on_tier(organization, "free")
    assert tier_export_allowed(organization=organization, fmt="csv")
    assert not tier_export_allowed(organization=organization, fmt="pdf")
    with pytest.raises(TierRefused, match="PDF"):
        tier_export_check(organization=organization, fmt="pdf")
    on_tier(organization, "pro")
    assert tier_export_allowed(organization=organization, fmt="PPTX")
    assert not tier_export_allowed(organization=organization, fmt="xlsx")
    on_tier(organization, "enterprise")
    assert tier_export_allowed(organization=organization, fmt="xlsx")


def test_pages_count_until_the_quota_and_then_show_the_friendly_page(
    organization: Organization, investigator: User
) -> None:
    on_tier(organization, "free", daily_query_limit=3)
    client = login(investigator)
    for _number in range(2):
        assert client.get(reverse("entities:list")).status_code == 200
    # Fragments are parts of a counted page: they do not count.
    assert client.get(reverse("entities:list"), **HTMX).status_code == 200
    assert usage_for_day(organization=organization).queries == 2
    assert client.get(reverse("entities:list")).status_code == 200

    refused = client.get(reverse("datasets:list"))
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "used all 3 queries of the Free plan" in refused.content.decode()
    assert reverse("accounts:upgrade") in refused.content.decode()
    graph = client.get(reverse("entities:graph", args=[0]), HTTP_ACCEPT="application/json")
    assert graph.status_code == 429
    assert "used all 3 queries" in graph.json()["detail"]
    # A fragment is refused too, with a reload that lands on the friendly page.
    fragment = client.get(reverse("entities:list"), **HTMX)
    assert (fragment.status_code, fragment["HX-Refresh"]) == (429, "true")
    # The way out stays open: home, usage and plans are not queries.
    assert client.get(reverse("core:home")).status_code == 200
    usage = client.get(reverse("accounts:usage"))
    assert usage.status_code == 200
    assert "3 of 3 queries used, 0 left" in usage.content.decode()
    assert usage_for_day(organization=organization).refused == 1


def test_searches_are_tallied_as_searches(organization: Organization, investigator: User) -> None:
    on_tier(organization, "free")
    assert login(investigator).get(reverse("search:search"), {"q": "Зоря"}).status_code == 200
    usage = usage_for_day(organization=organization)
    assert (usage.queries, usage.by_surface["search"], usage.by_surface["page"]) == (1, 1, 0)


def test_the_quota_is_per_organisation(organization: Organization, investigator: User, outsider: User) -> None:
    on_tier(organization, "free", daily_query_limit=1)
    assert login(investigator).get(reverse("entities:list")).status_code == 200
    assert login(investigator).get(reverse("entities:list")).status_code == 429
    assert login(outsider).get(reverse("entities:list")).status_code == 200


def test_writes_are_not_queries(organization: Organization, investigator: User) -> None:
    on_tier(organization, "free", daily_query_limit=1)
    client = login(investigator)
    client.post(reverse("entities:review-decide", args=[0]), {"decision": "reject"})
    assert usage_for_day(organization=organization).queries == 0


def test_the_api_answers_429_with_retry_after_once_the_quota_is_used(organization: Organization, partner: User) -> None:
    on_tier(organization, "pro", api_access=True, daily_query_limit=2)
    client = api_key_client(partner)
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/api/v1/organizations/").status_code == 200
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "used all 2 queries of the Pro plan" in refused.json()["detail"]
    assert usage_for_day(organization=organization).by_surface[Surface.API] == 2


def test_the_api_rate_per_minute_follows_the_tier(organization: Organization, partner: User) -> None:
    on_tier(organization, "enterprise", api_rate_per_minute=2)
    client = api_key_client(partner)
    assert [client.get("/api/v1/me/").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "2 a minute" in refused.json()["detail"]


def test_a_tier_without_api_access_is_refused_but_the_schema_stays_readable(
    organization: Organization, partner: User
) -> None:
    on_tier(organization, "free")
    client = api_key_client(partner)
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 403
    assert "does not include API access" in refused.json()["detail"]
    session = APIClient()
    session.force_login(partner)
    assert session.get(reverse("api-schema")).status_code == 200


def test_exports_count_against_the_same_quota(organization: Organization) -> None:
    on_tier(organization, "free", daily_query_limit=2)
    assert quota_consume(organization=organization, surface=Surface.PAGE) == 1
    assert quota_consume(organization=organization, surface=Surface.EXPORT) == 2
    with pytest.raises(QuotaExceeded) as refused:
        quota_consume(organization=organization, surface=Surface.EXPORT)
    assert refused.value.retry_after > 0
    # PII unlocks are tallied for the usage page, never refused by the quota.
    quota_consume(organization=organization, surface=Surface.PII_UNLOCK)
    usage = usage_for_day(organization=organization)
    assert (usage.queries, usage.by_surface["export"], usage.by_surface["pii_unlock"]) == (2, 1, 1)


def test_an_export_refused_inside_a_page_gets_the_friendly_page(organization: Organization, investigator: User) -> None:
    on_tier(organization, "free", daily_query_limit=0)
    request = RequestFactory().get("/cases/1/reports/")
    request.user = investigator
    try:
        quota_consume(organization=organization, surface=Surface.EXPORT)
    except QuotaExceeded as exc:
        response = TierQuotaMiddleware(lambda r: None).process_exception(request, exc)  # type: ignore[arg-type,return-value]
    assert response is not None
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_editing_a_tier_in_admin_applies_at_once(organization: Organization, investigator: User) -> None:
    tier = on_tier(organization, "free", daily_query_limit=1)
    client = login(investigator)
    assert client.get(reverse("entities:list")).status_code == 200
    assert client.get(reverse("entities:list")).status_code == 429
    root = login(UserFactory(is_superuser=True, is_staff=True))
    response = root.post(
        reverse("admin:accounts_tier_change", args=[tier.pk]),
        {
            "slug": "free",
            "name": "Free",
            "position": 10,
            "daily_query_limit": 5,
            "export_formats": "csv",
            "api_rate_per_minute": 10,
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert tier_limits(organization=organization.pk).daily_query_limit == 5
    assert client.get(reverse("entities:list")).status_code == 200


def test_an_organisations_own_administrator_cannot_change_its_tier(organization: Organization, org_admin: User) -> None:
    on_tier(organization, "free")
    client = login(org_admin)
    client.post(
        reverse("admin:accounts_organization_change", args=[organization.pk]),
        {
            "name": organization.name,
            "slug": organization.slug,
            "is_active": "on",
            "tier": Tier.objects.get(slug="enterprise").pk,
        },
    )
    organization.refresh_from_db()
    assert organization.tier.slug == "free"
    assert login(org_admin).get(reverse("admin:accounts_tier_changelist")).status_code == 403


def test_the_plans_page_marks_the_organisations_plan(organization: Organization) -> None:
    on_tier(organization, "pro")
    body = login(member(Role.INVESTIGATOR, organization)).get(reverse("accounts:upgrade")).content.decode()
    for name in ("Free", "Pro", "Enterprise"):
        assert name in body
    assert body.index("your plan") > body.index("Pro") > body.index("Free")
    assert "unlimited" in body
