"""A real browser through the whole shell: Debian's chromium driven by playwright-core (smoke.mjs).

The page, its scripts and the notification socket are served by Daphne exactly as in production; the
notification is sent through the real Redis channel layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, pgettext

from apps.accounts.models import Organization, User
from apps.core.notifications import notification_send_to_organization
from tests.factories import DEFAULT_PASSWORD

SCRIPT = Path(__file__).with_name("smoke.mjs")
RUN_TIMEOUT = 90
# What a dataset's name could hold; the notification must show it as text, never as markup.
TEXT_WITH_MARKUP = "Набір «Митні декларації <b>2024</b>» завантажено"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_see_home_get_notified_and_switch_language(
    browser_tools: str, asgi_live_server: str, organization: Organization, investigator: User
) -> None:
    investigator.first_name, investigator.last_name = "Олена", "Коваль"
    investigator.save()
    driver = subprocess.Popen(
        ["node", str(SCRIPT), asgi_live_server, investigator.username, DEFAULT_PASSWORD],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CHROMIUM_PATH": browser_tools},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(RUN_TIMEOUT, driver.kill)
    watchdog.start()
    try:
        assert driver.stdout is not None
        lines = []
        for line in driver.stdout:
            lines.append(line)
            if line.strip() == "READY":
                notification_send_to_organization(
                    organization_id=organization.pk,
                    payload={
                        "type": "dataset.loaded",
                        "level": "success",
                        "text": TEXT_WITH_MARKUP,
                        "url": "/",
                    },
                )
        driver.wait()
    finally:
        watchdog.cancel()
    stderr = driver.stderr.read() if driver.stderr else ""
    results = [line for line in lines if line.startswith("RESULT ")]
    assert results, f"the browser driver printed no result: {''.join(lines)} {stderr}"
    result = json.loads(results[-1].removeprefix("RESULT "))
    assert "error" not in result, result["error"]

    assert result["loginPath"] == "/accounts/login/?next=/"
    assert result["loginLang"] == "uk"
    assert result["loginFocus"] == "username"

    assert result["homeLang"] == "uk"
    assert result["homeHeading"] == "Вітаємо, Олена Коваль"
    with translation.override("uk"):
        sections = [gettext(label) for label in ("Datasets", "Entities", "Anomalies")]
        sections += [pgettext("navigation", "Search"), gettext("Cases")]
    assert result["navigation"] == ["Головна", *sections, "Документація API"]
    assert result["htmxVersion"] == "2.0.11"
    assert result["firstTabStop"] == {"text": "Перейти до основного вмісту", "href": "#main", "visible": True}
    assert result["focusAfterSkip"] == "main"

    notification = result["notification"]
    assert notification["className"] == "notification notification--success"
    assert notification["level"] == "Виконано"
    # Text from the server is shown as text: markup in it never becomes elements.
    assert notification["text"] == TEXT_WITH_MARKUP
    assert notification["elementsInText"] == 0
    assert notification["href"] == "/"
    assert notification["dismissLabel"] == "Закрити сповіщення"
    assert result["notificationsAfterDismiss"] == 0

    assert result["englishLang"] == "en"
    assert result["englishHeading"] == "Welcome, Олена Коваль"
    assert result["backLang"] == "uk"

    assert result["offsiteRequests"] == [], "the product must work offline"
    assert result["pageErrors"] == []
