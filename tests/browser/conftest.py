from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync
from channels.testing.live import make_application
from daphne.testing import DaphneProcess
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connections
from django.test import override_settings
from django.urls import clear_url_caches

START_TIMEOUT = 20


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser_tools() -> str:
    """Chromium's path; the test is skipped, saying why, on a machine without chromium or playwright-core."""
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    if not (Path(settings.BASE_DIR) / "node_modules" / "playwright-core").is_dir():
        pytest.skip("playwright-core is not installed (npm ci)")
    return chromium


@pytest.fixture
def asgi_live_server(transactional_db: None) -> Iterator[str]:
    """Daphne serving the real ASGI application (pages, static files, websockets) on the test database.

    The server is a forked process, so it inherits the test database's name and the product's default
    language set here; the data a test creates must be committed for it to see (transactional_db).
    """
    with override_settings(LANGUAGE_CODE="uk"):
        clear_url_caches()
        # The child must open its own connections, never share the parent's sockets.
        connections.close_all()
        # A fork keeps no thread but the forking one: once an async test has run, asgiref's executor for
        # thread-sensitive code (the consumers' database calls) would hand work to a thread the child lacks.
        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        server = DaphneProcess("localhost", partial(make_application, static_wrapper=ASGIStaticFilesHandler))
        server.start()
        try:
            if not server.ready.wait(timeout=START_TIMEOUT):
                raise RuntimeError(
                    f"daphne did not start: {server.errors.get_nowait() if not server.errors.empty() else ''}"
                )
            yield f"http://localhost:{server.port.value}"
        finally:
            server.terminate()
            server.join(timeout=10)
    clear_url_caches()
