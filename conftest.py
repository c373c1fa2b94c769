"""Start the embedded PostgreSQL and Redis (when DATABASE_URL / REDIS_URL are unset) before Django connects."""

import pytest

from nexus import embedded


def pytest_configure(config: pytest.Config) -> None:
    embedded.start_services()
