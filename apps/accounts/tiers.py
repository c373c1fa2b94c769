"""Billing tiers: what an organisation's plan allows, and the one quota gate every surface passes through.

A *query* is a read of the organisation's data that someone asked for: a full page of an app (lists, details,
searches), an API call, an export, a terminal question. Counters live in Redis, one hash per organisation per
local day (``TIME_ZONE``), and reset at local midnight. HTMX fragments of a counted page, writes (POST), static
files, health checks, sign-in and the account pages are not queries; a fragment is still refused while the quota is
used up, so the page cannot be read piecewise. PII unlocks and exports are tallied for the usage page as well.

The tier itself is read through a short-lived snapshot in the same Redis database, so the gate costs no SQL query
on a warm request; saving a tier or an organisation drops the snapshots it affects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Organization, Tier
from apps.core.errors import DomainError

SNAPSHOT_SECONDS = 300
# A day's counters are kept a week, for the usage page's history.
USAGE_DAYS_KEPT = 8
KEY_PREFIX = "nexus:billing"


class Surface(StrEnum):
    PAGE = "page"
    API = "api"
    EXPORT = "export"
    SEARCH = "search"
    TERMINAL = "terminal"
    PII_UNLOCK = "pii_unlock"


# What counts against the daily query quota; the others are only tallied.
QUERY_SURFACES = frozenset({Surface.PAGE, Surface.API, Surface.EXPORT, Surface.SEARCH, Surface.TERMINAL})
REFUSED_FIELD = "refused"
QUERIES_FIELD = "queries"


class QuotaExceeded(DomainError):
    """The organisation used up today's queries, or the API's requests for this minute.

    ``retry_after`` is the number of seconds until it may try again. Pages show a friendly page, the API answers
    429 with ``Retry-After`` (``apps.core.api.exceptions``).
    """

    def __init__(self, message: str, *, retry_after: int, limit: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit


class TierRefused(DomainError):
    """The organisation's tier does not include a feature (personal data, an export format, the API)."""


@dataclass(frozen=True)
class TierLimits:
    """What a tier allows, as cached for the gate."""

    slug: str
    name: str
    daily_query_limit: int | None
    pii_allowed: bool
    export_formats: tuple[str, ...]
    api_access: bool
    api_rate_per_minute: int
    custom_models: bool

    @classmethod
    def of(cls, tier: Tier) -> TierLimits:
        return cls(
            slug=tier.slug,
            name=tier.name,
            daily_query_limit=tier.daily_query_limit,
            pii_allowed=tier.pii_allowed,
            export_formats=tuple(tier.export_formats),
            api_access=tier.api_access,
            api_rate_per_minute=tier.api_rate_per_minute,
            custom_models=tier.custom_models,
        )


@dataclass(frozen=True)
class Usage:
    """One organisation's counters for one day."""

    day: date
    queries: int
    limit: int | None
    refused: int
    by_surface: dict[str, int]

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.queries)


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def billing_redis() -> redis.Redis:
    """The Redis database that holds the quota counters, rate windows and tier snapshots."""
    head, _sep, tail = settings.REDIS_URL.rstrip("/").partition("://")
    host = tail.split("/", 1)[0]
    return _client(f"{head}://{host}/{settings.REDIS_DATABASES['quota']}")


def _organization_id(organization: Organization | int) -> int:
    return organization if isinstance(organization, int) else int(organization.pk)


def _snapshot_key(organization_id: int) -> str:
    return f"{KEY_PREFIX}:tier:{organization_id}"


def tier_limits(*, organization: Organization | int) -> TierLimits:
    """The limits of the organisation's tier; one SQL query on a cold cache, none on a warm one."""
    organization_id = _organization_id(organization)
    client = billing_redis()
    cached = client.get(_snapshot_key(organization_id))
    if cached is not None:
        data: dict[str, Any] = json.loads(cached)
        data["export_formats"] = tuple(data["export_formats"])
        return TierLimits(**data)
    if isinstance(organization, Organization) and "tier" in organization._state.fields_cache:
        tier = organization.tier
    else:
        tier = Tier.objects.get(organizations__pk=organization_id)
    limits = TierLimits.of(tier)
    client.set(_snapshot_key(organization_id), json.dumps(asdict(limits)), ex=SNAPSHOT_SECONDS)
    return limits


def tier_limits_forget(*, organization_ids: list[int] | None = None) -> None:
    """Drop cached tier snapshots: of these organisations, or of all when ``None`` (a tier was edited)."""
    client = billing_redis()
    if organization_ids is None:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}:tier:*", count=500))
    else:
        keys = [_snapshot_key(pk) for pk in organization_ids]
    if keys:
        client.delete(*keys)


def tier_export_allowed(*, organization: Organization | int, fmt: str) -> bool:
    """Whether the organisation's tier may export in ``fmt`` (``ExportFormat``: csv, pdf, pptx, xlsx)."""
    return fmt.lower() in tier_limits(organization=organization).export_formats


def tier_pii_allowed(*, organization: Organization | int) -> bool:
    return tier_limits(organization=organization).pii_allowed


def tier_api_allowed(*, organization: Organization | int) -> bool:
    return tier_limits(organization=organization).api_access


def tier_export_check(*, organization: Organization | int, fmt: str) -> None:
    """Raise ``TierRefused`` unless the tier includes the export format."""
    if not tier_export_allowed(organization=organization, fmt=fmt):
        limits = tier_limits(organization=organization)
        raise TierRefused(
            _("The %(tier)s plan does not include %(format)s exports. Upgrade the plan to export in this format.")
            % {"tier": limits.name, "format": fmt.upper()}
        )


def _today(now: datetime | None = None) -> date:
    return timezone.localdate(now or timezone.now())


def seconds_until_reset(now: datetime | None = None) -> int:
    """Seconds until local midnight, when the day's quota starts afresh."""
    local = timezone.localtime(now or timezone.now())
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - local).total_seconds()) + 1)


def _usage_key(organization_id: int, day: date) -> str:
    return f"{KEY_PREFIX}:usage:{organization_id}:{day.isoformat()}"


# Atomic: check the limit and count in one step, so concurrent requests cannot overshoot it.
# KEYS[1] the day's hash; ARGV: limit (-1 = unlimited), surface, TTL seconds, 1 when it counts as a query.
_CONSUME = """
local used = tonumber(redis.call('HGET', KEYS[1], 'queries') or '0')
if ARGV[4] == '1' then
  local limit = tonumber(ARGV[1])
  if limit >= 0 and used >= limit then
    redis.call('HINCRBY', KEYS[1], 'refused', 1)
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    return -1
  end
  used = redis.call('HINCRBY', KEYS[1], 'queries', 1)
end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return used
"""


def _quota_message(limits: TierLimits) -> str:
    return _(
        "Your organisation has used all %(limit)s queries of the %(tier)s plan for today. The quota resets at "
        "midnight; an administrator can upgrade the plan for more."
    ) % {"limit": limits.daily_query_limit, "tier": limits.name}


def quota_consume(*, organization: Organization | int, surface: str) -> int:
    """Count one use of ``surface`` for the organisation today; the queries used so far.

    Surfaces in ``QUERY_SURFACES`` count against the tier's daily limit and raise ``QuotaExceeded`` once it is
    reached (the refused attempt is tallied, not counted); the others (PII unlocks) are only tallied.
    """
    surface = Surface(surface)
    organization_id = _organization_id(organization)
    limits = tier_limits(organization=organization)
    limit = -1 if limits.daily_query_limit is None else limits.daily_query_limit
    ttl = USAGE_DAYS_KEPT * 24 * 3600
    counts = "1" if surface in QUERY_SURFACES else "0"
    used = int(
        billing_redis().eval(_CONSUME, 1, _usage_key(organization_id, _today()), limit, surface.value, ttl, counts)
    )
    if used < 0:
        raise QuotaExceeded(_quota_message(limits), retry_after=seconds_until_reset(), limit=limit)
    return used


def quota_check(*, organization: Organization | int) -> None:
    """Raise ``QuotaExceeded`` when today's queries are used up, without counting one."""
    limits = tier_limits(organization=organization)
    if limits.daily_query_limit is None:
        return
    used = billing_redis().hget(_usage_key(_organization_id(organization), _today()), QUERIES_FIELD)
    if used is not None and int(used) >= limits.daily_query_limit:
        raise QuotaExceeded(_quota_message(limits), retry_after=seconds_until_reset(), limit=limits.daily_query_limit)


def api_rate_consume(*, organization: Organization | int) -> None:
    """Count one API request in the current minute; ``QuotaExceeded`` above the tier's rate."""
    organization_id = _organization_id(organization)
    limits = tier_limits(organization=organization)
    now = timezone.now()
    window = int(now.timestamp()) // 60
    key = f"{KEY_PREFIX}:rate:{organization_id}:{window}"
    pipe = billing_redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count = int(pipe.execute()[0])
    if count > limits.api_rate_per_minute:
        retry_after = 60 - int(now.timestamp()) % 60
        raise QuotaExceeded(
            _("Too many API requests: the %(tier)s plan allows %(rate)s a minute. Try again in %(seconds)s s.")
            % {"tier": limits.name, "rate": limits.api_rate_per_minute, "seconds": retry_after},
            retry_after=retry_after,
            limit=limits.api_rate_per_minute,
        )


def usage_for_day(*, organization: Organization | int, day: date | None = None) -> Usage:
    """The organisation's counters for ``day`` (today by default)."""
    day = day or _today()
    raw = billing_redis().hgetall(_usage_key(_organization_id(organization), day))
    values = {(key.decode() if isinstance(key, bytes) else key): int(value) for key, value in raw.items()}
    return Usage(
        day=day,
        queries=values.pop(QUERIES_FIELD, 0),
        limit=tier_limits(organization=organization).daily_query_limit,
        refused=values.pop(REFUSED_FIELD, 0),
        by_surface={surface.value: values.get(surface.value, 0) for surface in Surface},
    )


def usage_history(*, organization: Organization | int, days: int = 7) -> list[Usage]:
    """Today and the days before it, latest first."""
    today = _today()
    return [usage_for_day(organization=organization, day=today - timedelta(days=offset)) for offset in range(days)]
