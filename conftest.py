"""Start the embedded PostgreSQL and Redis (when DATABASE_URL / REDIS_URL are unset) before Django connects."""

import pytest

from nexus import embedded

_started_here: list[embedded.EmbeddedPostgres | embedded.EmbeddedRedis] = []


def pytest_configure(config: pytest.Config) -> None:
    for service in embedded.configured_services():
        if not service.is_running():
            service.start()
            _started_here.append(service)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Servers that were already up (a `make run` beside the tests) are left running.
    for service in _started_here:
        service.stop()
