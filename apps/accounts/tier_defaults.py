"""The plans of the product brief. Seeded by a migration and after every migrate (a flushed test database too);
an existing tier is never overwritten, so what administrators edit stays."""

from __future__ import annotations

from typing import Any

DEFAULT_TIERS: list[dict[str, Any]] = [
    {
        "slug": "free",
        "name": "Free",
        "position": 10,
        "daily_query_limit": 100,
        "pii_allowed": False,
        "export_formats": ["csv"],
        "api_access": False,
        "api_rate_per_minute": 10,
        "custom_models": False,
    },
    {
        "slug": "pro",
        "name": "Pro",
        "position": 20,
        "daily_query_limit": 10_000,
        "pii_allowed": True,
        "export_formats": ["csv", "pdf", "pptx"],
        "api_access": False,
        "api_rate_per_minute": 60,
        "custom_models": False,
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "position": 30,
        "daily_query_limit": None,
        "pii_allowed": True,
        "export_formats": ["csv", "pdf", "pptx", "xlsx"],
        "api_access": True,
        "api_rate_per_minute": 600,
        "custom_models": True,
    },
]


def tiers_ensure(using: str = "default", **_kwargs: Any) -> None:
    """Create the default tiers that are missing."""
    from apps.accounts.models import Tier

    for values in DEFAULT_TIERS:
        Tier.objects.using(using).get_or_create(slug=values["slug"], defaults=values)
