"""The canary walk: known personal values go in through the real ingestion, then every route of the URLconf —
pages, their HTMX fragments, searches, the API's lists and details, admin — is requested, and no response may
carry a canary in clear. Then a supervisor unlocks one person: the values appear on that person's pages and
nowhere else, and the disclosure is on record.

The routes are read from the URLconf, so a page added later is walked too. A route with path parameters needs a
source for them in ``PARAMETER_SOURCES`` (admin routes are filled from the admin's own models); a new one without
a source fails the test by name, so nobody can add a page the walk silently skips.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib import admin
from django.core.files import File
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import ApiKey, Organization, User
from apps.accounts.services import api_key_create
from apps.anomalies.models import Anomaly
from apps.cases import services as case_services
from apps.cases.models import Case, CaseTask
from apps.datasets import services as dataset_services
from apps.datasets.models import Dataset, DatasetSource, DatasetStatus, RecordKind
from apps.datasets.synthetic.codes import rnokpp_for
from apps.entities.models import Entity, EntityKind, MatchCandidate
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import PIIDisclosure

CANARY_NAME = "Канарейко Остап Тарасович"
CANARY_CODE = rnokpp_for(birth_date=datetime.date(1977, 7, 7), serial=707, male=True)
CANARY_ADDRESS = "м. Канарейськ, вул. Пташина, 7"
CANARY_BIRTH = "07.07.1977"
# What must never show in clear: the values as written and the pieces a page could show on their own.
CANARIES = [CANARY_NAME, "Канарейко", CANARY_CODE, "Пташина", CANARY_BIRTH, "1977-07-07"]
COMPANY_CODE = "32855961"
HTMX = {"HTTP_HX_REQUEST": "true"}
# What a user types to find the canary: a page may echo it, but never complete it to a canary.
SEARCH_PREFIX = "Канарей"
# A route the world holds no object for is still requested, with an id nothing has: it must answer 404/405.
ABSENT = 0


@dataclass
class World:
    organization: Organization
    persons: Dataset
    companies: Dataset
    person: Entity
    company: Entity
    case: Case
    task: CaseTask
    api_key: ApiKey
    candidate: MatchCandidate | None
    anomaly: Anomaly | None
    disclosure: PIIDisclosure | None = None
    person_token: str = field(default="")


Source = Callable[[World], dict[str, Any]]


def _disclosure_pk(world: World) -> dict[str, Any]:
    return {"pk": world.disclosure.pk if world.disclosure else ABSENT}


# Every non-admin route with path parameters, and where the walk takes them from.
PARAMETER_SOURCES: dict[str, Source] = {
    "accounts:api-key-revoke": lambda w: {"pk": w.api_key.pk},
    "privacy:unlock": lambda w: {"target_type": "entities.entity", "object_id": w.person.pk},
    "privacy:lock": lambda w: {"target_type": "entities.entity", "object_id": w.person.pk},
    "datasets:detail": lambda w: {"pk": w.persons.pk},
    "datasets:progress": lambda w: {"pk": w.persons.pk},
    "datasets:retry": lambda w: {"pk": w.persons.pk},
    "datasets:mapping": lambda w: {"pk": w.persons.pk},
    "datasets:quarantine": lambda w: {"pk": w.persons.pk},
    "entities:review-decide": lambda w: {"pk": w.candidate.pk if w.candidate else ABSENT},
    "entities:detail": lambda w: {"pk": w.person.pk},
    "entities:timeline": lambda w: {"pk": w.person.pk},
    "entities:related": lambda w: {"pk": w.person.pk},
    "entities:graph": lambda w: {"pk": w.person.pk},
    "entities:merge": lambda w: {"pk": w.person.pk},
    "entities:split": lambda w: {"pk": w.person.pk, "merge_pk": ABSENT},
    "entities:watchlist-detail": lambda w: {"pk": ABSENT},
    "entities:watchlist-screen": lambda w: {"pk": ABSENT},
    "search:saved-delete": lambda w: {"pk": ABSENT},
    "cases:detail": lambda w: {"pk": w.case.pk},
    "cases:edit": lambda w: {"pk": w.case.pk},
    "cases:assign": lambda w: {"pk": w.case.pk},
    "cases:status": lambda w: {"pk": w.case.pk},
    "cases:note-add": lambda w: {"pk": w.case.pk},
    "cases:task-add": lambda w: {"pk": w.case.pk},
    "cases:task-done": lambda w: {"pk": w.case.pk, "task_pk": w.task.pk},
    "cases:evidence-add": lambda w: {"pk": w.case.pk},
    "cases:evidence-download": lambda w: {"pk": w.case.pk, "evidence_pk": ABSENT},
    # A signed, expiring link; what the export holds is tested with the exports (tests/cases).
    "cases:export-download": lambda w: {"token": "not-a-signed-token"},
    "cases:export-request": lambda w: {"pk": w.case.pk},
    "anomalies:detail": lambda w: {"pk": w.anomaly.pk if w.anomaly else ABSENT},
    "anomalies:verdict": lambda w: {"pk": w.anomaly.pk if w.anomaly else ABSENT},
    "api:organization-detail": lambda w: {"pk": w.organization.pk},
    "api:pii-disclosure-detail": _disclosure_pk,
    "api:dataset-detail": lambda w: {"pk": w.persons.pk},
    "api:dataset-quarantine": lambda w: {"pk": w.persons.pk},
    "api:dataset-retry": lambda w: {"pk": w.persons.pk},
    "api:entity-detail": lambda w: {"pk": w.person.pk},
    "api:entity-mentions": lambda w: {"pk": w.person.pk},
    "api:entity-merge": lambda w: {"pk": w.person.pk},
    "api:entity-neighbourhood": lambda w: {"pk": w.person.pk},
    "api:entity-relationships": lambda w: {"pk": w.person.pk},
    "api:merge-detail": lambda w: {"pk": ABSENT},
    "api:merge-split": lambda w: {"pk": ABSENT},
    "api:match-candidate-detail": lambda w: {"pk": w.candidate.pk if w.candidate else ABSENT},
    "api:match-candidate-decide": lambda w: {"pk": w.candidate.pk if w.candidate else ABSENT},
    "api:saved-search-detail": lambda w: {"pk": ABSENT},
    "api:case-detail": lambda w: {"pk": w.case.pk},
    "api:case-notes": lambda w: {"pk": w.case.pk},
    "api:case-reports": lambda w: {"pk": w.case.pk},
    "api:case-status": lambda w: {"pk": w.case.pk},
}

# Where the clear values may show after the supervisor unlocked the person: the person's own pages and answers.
UNLOCKED_ROUTES = {
    "entities:detail",
    "entities:timeline",
    "entities:related",
    "api:entity-detail",
    "api:pii-disclosure-list",
    "api:pii-disclosure-detail",
}
# ... and where they must show, or the unlock did nothing.
MUST_REVEAL = {"entities:detail", "api:entity-detail"}


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    parameters: tuple[str, ...]
    pattern: URLPattern

    @property
    def is_admin(self) -> bool:
        return self.name.startswith("admin:")

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")


_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _parameters(route: str) -> tuple[str, ...]:
    return tuple(_REGEX_GROUP.findall(route) + _CONVERTER.findall(route))


def all_routes() -> list[Route]:
    """Every named route of the URLconf, with its namespaced name and the names of its path parameters."""
    routes: list[Route] = []

    def walk(patterns: list[Any], prefix: str, namespaces: tuple[str, ...]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                more = (pattern.namespace,) if pattern.namespace else ()
                walk(pattern.url_patterns, prefix + str(pattern.pattern), namespaces + more)
            elif isinstance(pattern, URLPattern) and pattern.name:
                route = prefix + str(pattern.pattern)
                name = ":".join((*namespaces, pattern.name))
                routes.append(Route(name=name, route=route, parameters=_parameters(route), pattern=pattern))

    walk(get_resolver().url_patterns, "", ())
    return routes


# Routes that are not pages of the product and hold no organisation data.
OUTSIDE_THE_WALK = {
    "set_language",  # POST-only language switch
    "oidc_authentication_init",  # redirects to the identity provider
    "oidc_authentication_callback",
    "oidc_logout",
    "accounts:logout",  # would end the walker's session
    "admin:logout",
    "admin:view_on_site",  # a redirect to the object's page, which the walk opens itself
}


def _admin_models() -> dict[str, type[Model]]:
    return {f"admin:{m._meta.app_label}_{m._meta.model_name}": m for m in admin.site._registry}


def _admin_kwargs(route: Route) -> dict[str, Any] | None:
    """Admin routes are filled from the admin's own registry: the first object of the model, each app's index."""
    if route.parameters == ("app_label",):
        return None
    if route.name == "admin:auth_user_password_change":
        return None
    prefix = route.name.rsplit("_", 1)[0]
    model = _admin_models().get(prefix)
    if model is None or route.parameters != ("object_id",):
        return None
    first = model._default_manager.order_by("pk").first()
    return {"object_id": first.pk} if first is not None else {"object_id": ABSENT}


def _fill(route: str, kwargs: dict[str, Any]) -> str:
    def value(name: str) -> str:
        return str(kwargs[name])

    path = _REGEX_GROUP.sub(lambda m: value(m.group(1)), route)
    path = _CONVERTER.sub(lambda m: value(m.group(1)), path)
    return "/" + path.replace("^", "").replace("$", "").lstrip("/")


def walk_urls(world: World, *, admin: bool) -> Iterator[tuple[Route, str]]:
    """``(route, url)`` for every route of the walk (admin's, or all others); a route with path parameters and no
    source fails here, by name."""
    unknown: list[str] = []
    for route in all_routes():
        if route.name in OUTSIDE_THE_WALK or route.is_admin != admin:
            continue
        if not route.parameters:
            kwargs: dict[str, Any] | None = {}
        elif route.is_admin:
            if route.parameters == ("app_label",):
                for label in sorted({m._meta.app_label for m in admin.site._registry}):
                    yield route, _fill(route.route, {"app_label": label})
                continue
            kwargs = _admin_kwargs(route)
            if kwargs is None:
                continue
        elif route.name in PARAMETER_SOURCES:
            kwargs = PARAMETER_SOURCES[route.name](world)
        else:
            unknown.append(f"{route.name} ({route.route})")
            continue
        yield route, _fill(route.route, kwargs)
    assert not unknown, (
        "Routes with path parameters the canary walk does not know how to fill; add them to PARAMETER_SOURCES in "
        f"{Path(__file__).name}: {unknown}"
    )


def _body(response: Any) -> str:
    if getattr(response, "is_async", False):

        async def consume() -> bytes:
            return b"".join([bytes(chunk) async for chunk in response.streaming_content])

        content = async_to_sync(consume)()
    elif getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return bytes(content).decode("utf-8", errors="replace")


def leaked_canaries(text: str) -> list[str]:
    """The canaries in ``text``, as written or JSON-escaped."""
    return [canary for canary in CANARIES if canary in text or json.dumps(canary)[1:-1] in text]


@dataclass
class WalkResult:
    bodies: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    leaks: dict[str, list[str]] = field(default_factory=dict)
    # Routes that failed: a page that crashes is no proof it masks.
    errors: dict[str, str] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)


def walk(client: Client, world: World, *, admin: bool = False, searches: bool = True) -> WalkResult:
    """Request every route (admin's, or all others with their HTMX fragment variant and, with ``searches``, a
    search for the canary) and collect the canaries each answer shows."""
    result = WalkResult()
    for route, url in walk_urls(world, admin=admin):
        variants: list[tuple[str, dict[str, Any], dict[str, str]]] = [(url, {}, {})]
        if not route.is_admin and ":" in route.name:
            # The API has no fragments; a page answers HTMX with a fragment of its own.
            search_headers: dict[str, Any] = {} if route.is_api else HTMX
            if not route.is_api:
                variants.append((url, HTMX, {}))
            if searches and not route.parameters:
                # Searches and filters fed the start of a canary and its token: what they find must stay masked.
                variants.append((url, {}, {"q": SEARCH_PREFIX}))
                variants.append((url, search_headers, {"q": world.person_token}))
        for target, headers, query in variants:
            key = f"{target}?{query}{' [htmx]' if headers else ''}"
            try:
                response = client.get(target, query, **headers)
            except Exception as exc:  # noqa: BLE001 - every failing route is reported at the end, not the first
                result.errors[key] = f"{type(exc).__name__}: {exc}"
                continue
            body = _body(response)
            if response.status_code == 500:
                result.errors[key] = "500"
            result.bodies[key] = body
            result.statuses[key] = response.status_code
            result.routes[key] = route.name
            if leaks := leaked_canaries(body):
                result.leaks[key] = leaks
    return result


# --- the world ---------------------------------------------------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _ingest(path: Path, organization: Organization, kind: str) -> Dataset:
    with path.open("rb") as handle:
        created = dataset_services.dataset_create(
            organization=organization,
            user=None,
            file=File(handle, name=path.name),
            name=path.stem,
            kind=kind,
            source=DatasetSource.COMMAND,
            enqueue=False,
        )
    return dataset_services.dataset_run(dataset_id=created.dataset.pk, hooks_inline=True)


@pytest.fixture
def media(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def world(
    organization: Organization,
    supervisor: User,
    investigator: User,
    media: Path,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> World:
    persons_csv = _write_csv(
        tmp_path / "persons.csv",
        ["Номер запису", "Джерело", "ПІБ", "Дата народження", "РНОКПП", "Адреса", "Ролі"],
        [["1", "ДПС", CANARY_NAME, CANARY_BIRTH, CANARY_CODE, CANARY_ADDRESS, "керівник"]],
    )
    companies_csv = _write_csv(
        tmp_path / "companies.csv",
        ["Код ЄДРПОУ", "Повне найменування", "Місцезнаходження", "Керівник", "Засновники"],
        [[COMPANY_CODE, "ТОВ «Зоря»", "м. Київ", CANARY_NAME, CANARY_NAME]],
    )
    # The post-load hooks (entity resolution, indexing, scoring) run after the commit, as in production.
    with django_capture_on_commit_callbacks(execute=True):
        persons = _ingest(persons_csv, organization, RecordKind.REGISTRY_PERSON)
    with django_capture_on_commit_callbacks(execute=True):
        companies = _ingest(companies_csv, organization, RecordKind.REGISTRY_COMPANY)
    assert (persons.status, companies.status) == (DatasetStatus.READY, DatasetStatus.READY)
    token = pii_token(CANARY_NAME, PIIKind.PERSON_NAME)
    # The registry's person (with the tax number) first; the company's director is a second profile under review.
    person = Entity.objects.filter(organization=organization, kind=EntityKind.PERSON, name=token).order_by("pk")[0]
    candidate = MatchCandidate.objects.filter(organization=organization).first()
    company = Entity.objects.filter(organization=organization, kind=EntityKind.COMPANY).first()
    assert person.is_pii
    assert company is not None
    case = case_services.case_create(
        actor=supervisor,
        organization=organization,
        title="Перевірка ТОВ «Зоря»",
        team=[investigator],
        entities=[person, company],
    )
    task = case_services.case_task_add(actor=supervisor, case=case, title="Запросити виписку")
    return World(
        organization=organization,
        persons=persons,
        companies=companies,
        person=person,
        company=company,
        case=case,
        task=task,
        api_key=api_key_create(user=investigator, name="walk").api_key,
        candidate=candidate,
        anomaly=Anomaly.objects.filter(organization=organization).first(),
        person_token=token,
    )


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the walks ---------------------------------------------------------------------------------------------------


def test_no_canary_in_clear_on_any_route_for_a_user_without_view_pii(world: World, investigator: User) -> None:
    assert not investigator.has_perm("accounts.view_pii")
    result = walk(login(investigator), world)

    assert result.leaks == {}
    assert result.errors == {}
    # The walk saw the data, masked: the person's page answered and shows the token.
    person_page = next(key for key, name in result.routes.items() if name == "entities:detail")
    assert result.statuses[person_page] == 200
    assert world.person_token in result.bodies[person_page]
    assert sum(status == 200 for status in result.statuses.values()) > 40
    assert not PIIDisclosure.objects.exists()


def test_no_canary_in_clear_in_admin_for_an_administrator_who_has_not_unlocked(world: World, org_admin: User) -> None:
    # The permission alone shows nothing: only an unlock does.
    assert org_admin.has_perm("accounts.view_pii")
    result = walk(login(org_admin), world, admin=True)

    assert result.leaks == {}
    assert result.errors == {}
    changelists = [key for key, name in result.routes.items() if name.endswith("_changelist")]
    assert len(changelists) > 10
    assert all(result.statuses[key] in {200, 302, 403} for key in changelists)
    person_change = next(key for key, name in result.routes.items() if name == "admin:datasets_registryperson_change")
    assert result.statuses[person_change] == 200


def test_an_unlock_shows_the_values_on_the_unlocked_object_only_and_is_recorded(world: World, supervisor: User) -> None:
    client = login(supervisor)
    response = client.post(
        f"/privacy/unlock/entities.entity/{world.person.pk}/",
        {"reason": "Перевірка керівника ТОВ «Зоря» у справі", "next": f"/entities/{world.person.pk}/"},
    )
    assert response.status_code == 302
    disclosure = PIIDisclosure.objects.get()
    assert (disclosure.user, disclosure.target) == (supervisor, world.person)
    assert "name" in disclosure.fields
    assert world.person_token in disclosure.tokens
    world.disclosure = disclosure

    result = walk(client, world, searches=False)

    outside = {key: leaks for key, leaks in result.leaks.items() if result.routes[key] not in UNLOCKED_ROUTES}
    assert outside == {}
    assert result.errors == {}
    revealed = {result.routes[key] for key in result.leaks}
    assert revealed >= MUST_REVEAL
    person_page = f"/entities/{world.person.pk}/?{{}}"
    assert CANARY_NAME in result.bodies[person_page]
    # The company the person directs was not unlocked: its page keeps the token.
    assert CANARY_NAME not in client.get(f"/entities/{world.company.pk}/").content.decode()
