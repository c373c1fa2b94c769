"""The web UI shell: language, accessibility landmarks and labels, navigation by permission, offline assets.

Pages are parsed with the standard library's HTML parser into a small tree, so assertions name elements and
attributes rather than matching markup text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory, override_settings
from django.urls import clear_url_caches, reverse
from django.utils import translation
from django.views.defaults import server_error
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import User
from apps.accounts.services import api_key_create
from apps.core import context_processors
from apps.core.context_processors import NavItem
from nexus.settings import base as base_settings

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
STATIC_DIR = Path(settings.BASE_DIR) / "static"


# --- a small DOM -----------------------------------------------------------------------------------------------

VOID_ELEMENTS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}  # fmt: skip


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element | str] = field(default_factory=list)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, where: Callable[[Element], bool] | None = None) -> list[Element]:
        return [e for e in self.iter() if (tag is None or e.tag == tag) and (where is None or where(e))]

    def find(self, tag: str | None = None, where: Callable[[Element], bool] | None = None) -> Element | None:
        found = self.find_all(tag, where)
        return found[0] if found else None

    def text(self) -> str:
        parts = [child if isinstance(child, str) else child.text() for child in self.children]
        return " ".join(" ".join(parts).split())

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs}, parent=self.current)
        self.current.children.append(element)
        if tag not in VOID_ELEMENTS:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, {name: value or "" for name, value in attrs}, parent=self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(content: bytes | str) -> Element:
    builder = TreeBuilder()
    builder.feed(content.decode() if isinstance(content, bytes) else content)
    builder.close()
    return builder.root


def page(client: Client, url: str, status: int = 200) -> Element:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return parse(response.content)


def html_lang(document: Element) -> str:
    html = document.find("html")
    assert html is not None
    return html.attrs["lang"]


def unlabelled_fields(document: Element) -> list[str]:
    """Form controls a person cannot identify: no <label for>, no wrapping <label>, no aria-label(ledby)."""
    label_targets = {label.attrs.get("for") for label in document.find_all("label")}
    missing = []
    for control in document.find_all(where=lambda e: e.tag in {"input", "select", "textarea"}):
        if control.attrs.get("type") in {"hidden", "submit", "button", "reset", "image"}:
            continue
        if control.attrs.get("id") and control.attrs["id"] in label_targets:
            continue
        if any(ancestor.tag == "label" for ancestor in control.ancestors()):
            continue
        if control.attrs.get("aria-label") or control.attrs.get("aria-labelledby"):
            continue
        missing.append(control.attrs.get("name") or control.tag)
    return missing


def nav_links(document: Element) -> dict[str, Element]:
    nav = document.find("nav")
    assert nav is not None, "no navigation landmark"
    return {link.text(): link for link in nav.find_all("a")}


def switcher_data(document: Element, language: str) -> dict[str, str]:
    """What the language switcher posts when the button for ``language`` is pressed."""
    form = document.find("form", lambda e: e.attrs.get("action") == reverse("set_language"))
    assert form is not None
    data = {i.attrs["name"]: i.attrs.get("value", "") for i in form.find_all("input")}
    button = form.find("button", lambda e: e.attrs.get("value") == language)
    assert button is not None
    data[button.attrs["name"]] = language
    return data


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def ukrainian_default() -> Iterator[None]:
    """The product's default language. The test settings default to English; the URL resolver caches
    language prefixes per default language, so it is rebuilt on the way in and out."""
    with override_settings(LANGUAGE_CODE=base_settings.LANGUAGE_CODE):
        clear_url_caches()
        yield
    clear_url_caches()


# --- language --------------------------------------------------------------------------------------------------


def test_the_product_speaks_ukrainian_by_default() -> None:
    assert base_settings.LANGUAGE_CODE == "uk"
    assert [code for code, _name in base_settings.LANGUAGES] == ["uk", "en"]


@pytest.mark.django_db
@pytest.mark.usefixtures("ukrainian_default")
def test_login_page_is_ukrainian_by_default_and_english_after_switching(client: Client) -> None:
    login_url = reverse("accounts:login")
    assert login_url == "/accounts/login/"

    ukrainian = page(client, login_url)
    assert html_lang(ukrainian) == "uk"
    heading = ukrainian.find("h1")
    assert heading is not None
    assert heading.text() == "Вхід до Nexus Core"
    assert [label.text() for label in ukrainian.find_all("label")] == ["Ім'я користувача:", "Пароль:"]

    response = client.post("/i18n/setlang/", switcher_data(ukrainian, "en"))
    assert response.status_code == 302
    assert response["Location"] == "/en/accounts/login/"
    english = page(client, response["Location"])
    assert html_lang(english) == "en"
    heading = english.find("h1")
    assert heading is not None
    assert heading.text() == "Sign in to Nexus Core"

    # Back to Ukrainian with what the English page's own switcher sends.
    response = client.post("/i18n/setlang/", switcher_data(english, "uk"))
    assert response["Location"] == "/accounts/login/"
    assert html_lang(page(client, response["Location"])) == "uk"


@pytest.mark.django_db
@pytest.mark.usefixtures("ukrainian_default")
def test_language_switcher_posts_to_set_language_and_marks_the_current_language(client: Client) -> None:
    document = page(client, "/accounts/login/?next=/")
    form = document.find("form", lambda e: e.attrs.get("action") == "/i18n/setlang/")
    assert form is not None
    assert form.attrs["method"] == "post"
    assert form.find("input", lambda e: e.attrs.get("name") == "csrfmiddlewaretoken") is not None
    next_input = form.find("input", lambda e: e.attrs.get("name") == "next")
    assert next_input is not None
    assert next_input.attrs["value"] == "/accounts/login/?next=/"
    buttons = {b.attrs["value"]: b for b in form.find_all("button")}
    assert set(buttons) == {"uk", "en"}
    assert buttons["uk"].text() == "Українська"
    assert buttons["uk"].attrs["aria-current"] == "true"
    assert buttons["en"].text() == "English"
    assert buttons["en"].attrs["lang"] == "en"
    assert "aria-current" not in buttons["en"].attrs


@pytest.mark.django_db
@pytest.mark.usefixtures("ukrainian_default")
def test_signed_in_pages_follow_the_chosen_language(client: Client, investigator: User) -> None:
    login(client, investigator)
    ukrainian = page(client, "/")
    assert html_lang(ukrainian) == "uk"
    assert "Головна" in nav_links(ukrainian)
    assert "Слідчий" in ukrainian.text()

    response = client.post("/i18n/setlang/", switcher_data(ukrainian, "en"))
    assert response["Location"] == "/en/"
    english = page(client, "/en/")
    assert html_lang(english) == "en"
    assert "Home" in nav_links(english)
    assert "Investigator" in english.text()
    assert nav_links(english)["Home"].attrs["href"] == "/en/"

    # A page that does not exist switches back too.
    missing = page(client, "/en/no-such-page/?q=1", status=404)
    response = client.post("/i18n/setlang/", switcher_data(missing, "uk"))
    assert response["Location"] == "/no-such-page/?q=1"


# --- layout and accessibility ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_layout_has_landmarks_skip_link_and_title(client: Client, investigator: User) -> None:
    document = page(login(client, investigator), "/")
    body = document.find("body")
    assert body is not None
    first_link = body.find("a")
    assert first_link is not None
    assert first_link.attrs["href"] == "#main", "the skip link must be the first link on the page"
    main = document.find_all("main")
    assert len(main) == 1
    assert main[0].attrs["id"] == "main"
    assert document.find("header") is not None
    assert document.find("footer") is not None
    nav = document.find("nav")
    assert nav is not None
    assert nav.attrs.get("aria-label")
    title = document.find("title")
    assert title is not None
    assert title.text() == "Home · Nexus Core"
    assert len(document.find_all("h1")) == 1


@pytest.mark.django_db
def test_user_menu_shows_name_organisation_role_and_signs_out_with_post(client: Client, investigator: User) -> None:
    investigator.first_name, investigator.last_name = "Олена", "Коваль"
    investigator.save()
    document = page(login(client, investigator), "/")
    menu = document.find("section", lambda e: e.attrs.get("class") == "user-menu")
    assert menu is not None
    assert "Олена Коваль" in menu.text()
    assert "Київська митниця" in menu.text()
    assert "Investigator" in menu.text()
    form = menu.find("form")
    assert form is not None
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == reverse("accounts:logout")

    response = client.post(form.attrs["action"])
    assert response.status_code == 302
    assert client.get("/").status_code == 302, "the session must be gone after signing out"


@pytest.mark.django_db
def test_login_form_fields_are_labelled_and_errors_are_announced(client: Client, investigator: User) -> None:
    document = page(client, "/accounts/login/")
    assert unlabelled_fields(document) == []
    username = document.find("input", lambda e: e.attrs.get("name") == "username")
    password = document.find("input", lambda e: e.attrs.get("name") == "password")
    assert username is not None
    assert password is not None
    assert username.attrs["autocomplete"] == "username"
    assert password.attrs["autocomplete"] == "current-password"

    response = client.post("/accounts/login/", {"username": "investigator", "password": "wrong"})
    assert response.status_code == 200
    document = parse(response.content)
    alert = document.find(where=lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert "correct username and password" in alert.text()
    assert unlabelled_fields(document) == []


@pytest.mark.django_db
def test_every_form_field_on_every_page_has_a_label(client: Client, org_admin: User) -> None:
    login(client, org_admin)
    pages = ["/", "/accounts/api-keys/", "/accounts/api-keys/new/", "/no-such-page/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code in {200, 404}
        assert unlabelled_fields(parse(response.content)) == [], url


@pytest.mark.django_db
def test_sso_button_only_when_single_sign_on_is_enabled(client: Client, settings: SettingsWrapper) -> None:
    def sso_link(document: Element) -> Element | None:
        return document.find("a", lambda e: e.attrs.get("href", "").startswith(reverse("oidc_authentication_init")))

    assert sso_link(page(client, "/accounts/login/")) is None
    settings.OIDC_ENABLED = True
    link = sso_link(page(client, "/accounts/login/?next=/en/"))
    assert link is not None
    assert link.attrs["href"] == "/oidc/authenticate/?next=%2Fen%2F"
    assert link.text() == "Sign in with Keycloak"


@pytest.mark.django_db
def test_messages_are_a_live_region(client: Client, org_admin: User) -> None:
    issued = api_key_create(user=org_admin, name="Партнерська система", created_by=org_admin)
    login(client, org_admin)
    response = client.post(reverse("accounts:api-key-revoke", args=[issued.api_key.pk]), follow=True)
    document = parse(response.content)
    region = document.find(where=lambda e: e.attrs.get("class") == "messages")
    assert region is not None
    assert region.attrs["role"] == "status"
    assert region.attrs["aria-live"] == "polite"
    assert "Партнерська система" in region.text()


@pytest.mark.django_db
@pytest.mark.usefixtures("ukrainian_default")
def test_live_notification_area_connects_only_for_signed_in_users(client: Client, investigator: User) -> None:
    anonymous = page(client, "/accounts/login/")
    assert anonymous.find(where=lambda e: "ws-connect" in e.attrs) is None

    document = page(login(client, investigator), "/")
    area = document.find(where=lambda e: "ws-connect" in e.attrs)
    assert area is not None
    assert area.attrs["hx-ext"] == "ws"
    assert area.attrs["ws-connect"] == "/ws/notifications/?language=uk"
    log = area.find("ul")
    assert log is not None
    assert log.attrs["aria-live"] == "polite"
    assert area.attrs["data-dismiss-label"] == "Закрити сповіщення"


# --- navigation ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_investigator_sees_neither_api_keys_nor_administration(client: Client, investigator: User) -> None:
    links = nav_links(page(login(client, investigator), "/"))
    assert set(links) == {"Home", "Datasets", "Entities", "Anomalies", "Search", "Cases", "API documentation"}
    assert client.get(reverse("accounts:api-keys")).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.django_db
def test_organisation_admin_sees_api_keys_and_administration(client: Client, org_admin: User) -> None:
    links = nav_links(page(login(client, org_admin), "/"))
    assert set(links) == {
        "Home", "Datasets", "Entities", "Anomalies", "Search", "Cases", "API keys", "API documentation",
        "Administration",
    }  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("role_user", ["investigator", "supervisor", "org_admin", "partner"])
def test_every_navigation_link_opens_for_its_user(
    client: Client, request: pytest.FixtureRequest, role_user: str
) -> None:
    user = request.getfixturevalue(role_user)
    links = nav_links(page(login(client, user), "/"))
    assert links
    for label, link in links.items():
        assert client.get(link.attrs["href"]).status_code == 200, label


@pytest.mark.django_db
def test_current_section_is_marked_with_aria_current(client: Client, org_admin: User) -> None:
    login(client, org_admin)
    on_home = nav_links(page(client, "/"))
    assert on_home["Home"].attrs.get("aria-current") == "page"
    assert "aria-current" not in on_home["API keys"].attrs

    on_sub_page = nav_links(page(client, "/accounts/api-keys/new/"))
    assert on_sub_page["API keys"].attrs.get("aria-current") == "page"
    assert "aria-current" not in on_sub_page["Home"].attrs


@pytest.mark.django_db
def test_navigation_leaves_out_pages_that_are_not_routed(
    client: Client, org_admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        context_processors, "NAVIGATION", [*context_processors.NAVIGATION, NavItem("Ghost", "nowhere:page")]
    )
    links = nav_links(page(login(client, org_admin), "/"))
    assert "Ghost" not in links
    assert "API keys" in links


def test_anonymous_users_get_no_navigation() -> None:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert context_processors.navigation(request) == {"navigation": []}


@pytest.mark.django_db
@pytest.mark.usefixtures("ukrainian_default")
def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    response = client.get("/en/")
    assert response["Location"] == "/en/accounts/login/?next=/en/"


# --- home ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_shows_organisation_role_and_where_to_go(client: Client, org_admin: User) -> None:
    document = page(login(client, org_admin), "/")
    main = document.find("main")
    assert main is not None
    summary = main.find("dl")
    assert summary is not None
    assert [dt.text() for dt in summary.find_all("dt")] == ["Organisation", "Role", "User name"]
    assert [dd.text() for dd in summary.find_all("dd")] == ["Київська митниця", "Administrator", "orgadmin"]
    cards = main.find_all("li", lambda e: e.attrs.get("class") == "card")
    assert [card.text() for card in cards] == [
        "Datasets Load customs declarations, tax invoices, registers and Telegram exports, and follow each file in.",
        "Entities The companies, people and accounts behind the records: their profiles, links, timelines and graph.",
        "Anomalies The live feed of what the detectors and the risk model found, with verdicts and cases.",
        "Search One box over entities, records, messages, documents and cases, with saved searches.",
        "Cases Your investigations: their team, tasks, notes, evidence, timeline and reports.",
        "API keys Issue and revoke the keys partner systems use to call the API.",
        "API documentation The partner REST API: endpoints, fields and how to authenticate.",
        "Administration Users, organisations, roles and the audit log.",
    ]
    assert [link.attrs["href"] for card in cards for link in card.find_all("a")] == [
        "/datasets/",
        "/entities/",
        "/anomalies/",
        "/search/",
        "/cases/",
        "/accounts/api-keys/",
        "/api/docs/",
        "/admin/",
    ]


@pytest.mark.django_db
def test_system_status_only_for_those_allowed_to_see_health(
    client: Client, org_admin: User, investigator: User
) -> None:
    status_heading = "System status"
    admin_home = page(login(client, org_admin), "/")
    section = admin_home.find("section", lambda e: e.attrs.get("aria-labelledby") == "status-heading")
    assert section is not None
    assert status_heading in section.text()
    components = dict(zip(
        [dt.text() for dt in section.find_all("dt")], [dd.text() for dd in section.find_all("dd")], strict=True
    ))  # fmt: skip
    assert components["Database"] == "Working"
    assert components["Queue, cache and live updates"] == "Working"
    assert set(components) == {"Database", "Queue, cache and live updates", "Background workers"}

    investigator_home = page(login(Client(), investigator), "/")
    assert status_heading not in investigator_home.text()


@pytest.mark.django_db
def test_home_tells_a_user_without_organisation_what_to_do(client: Client) -> None:
    lonely = User.objects.create_user(username="lonely", password="x")
    document = page(login(client, lonely), "/")
    main = document.find("main")
    assert main is not None
    assert "does not belong to any organisation" in main.text()
    assert set(nav_links(document)) == {"Home", "API documentation"}


# --- error pages -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("ukrainian_default")
def test_404_is_translated_and_does_not_echo_the_address(client: Client, investigator: User) -> None:
    document = page(login(client, investigator), "/secret-<b>probe</b>/", status=404)
    assert html_lang(document) == "uk"
    heading = document.find("h1")
    assert heading is not None
    assert heading.text() == "Сторінку не знайдено"
    assert "probe" not in document.text()
    assert document.find("nav") is not None


@pytest.mark.django_db
def test_403_is_friendly_and_leaks_nothing(client: Client, investigator: User) -> None:
    response = login(client, investigator).get(reverse("accounts:api-keys"))
    assert response.status_code == 403
    document = parse(response.content)
    heading = document.find("h1")
    assert heading is not None
    assert heading.text() == "Access denied"
    assert "apikey" not in response.content.decode().lower()
    assert "PermissionDenied" not in response.content.decode()


@pytest.mark.django_db
def test_csrf_failure_page_is_translated(investigator: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    heading = parse(response.content).find("h1")
    assert heading is not None
    assert heading.text() == "The form has expired"
    assert "CSRF" not in parse(response.content).text(), "the technical reason stays out of the page"


def test_500_renders_without_a_request_context_and_leaks_nothing() -> None:
    request = RequestFactory().get("/boom/")
    with translation.override("uk"):
        response = server_error(request)
    assert response.status_code == 500
    document = parse(response.content)
    assert html_lang(document) == "uk"
    heading = document.find("h1")
    assert heading is not None
    assert heading.text() == "Щось пішло не так"
    assert document.find("nav") is None
    assert "boom" not in response.content.decode()


# --- offline assets --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_layout_assets_are_served_locally(client: Client, investigator: User) -> None:
    document = page(login(client, investigator), "/")
    sources = [e.attrs["src"] for e in document.find_all("script") if "src" in e.attrs]
    sources += [e.attrs["href"] for e in document.find_all("link") if e.attrs.get("rel") == "stylesheet"]
    assert len(sources) >= 4
    for source in sources:
        assert source.startswith(settings.STATIC_URL), source
        response = client.get(source)
        assert response.status_code == 200, source
        served = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        assert served == (STATIC_DIR / source.removeprefix(settings.STATIC_URL)).read_bytes(), source


REMOTE_SOURCE = re.compile(
    r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


def test_no_template_or_asset_loads_anything_from_another_site() -> None:
    files = [*TEMPLATES_DIR.rglob("*.html"), *STATIC_DIR.glob("css/**/*.css"), *STATIC_DIR.glob("js/**/*.js")]
    assert len(files) > 5
    offenders = [str(path) for path in files if REMOTE_SOURCE.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_remote_source_pattern_catches_a_cdn() -> None:
    assert REMOTE_SOURCE.search('<script src="https://unpkg.com/htmx.org"></script>')
    assert REMOTE_SOURCE.search("<link rel=stylesheet href=//cdn.example.org/x.css>")
    assert REMOTE_SOURCE.search("@import url('https://fonts.example.org/css');")
    assert not REMOTE_SOURCE.search('<script src="/static/vendor/htmx/htmx-2.0.11.min.js"></script>')
    assert not REMOTE_SOURCE.search('<a href="https://example.org/docs">docs</a>')
