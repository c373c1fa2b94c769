"""Production refuses to start without its secrets and servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
REQUIRED = {
    "SECRET_KEY": "s3cret",
    "PII_PEPPER": "pepper",
    "PII_VAULT_KEY": "vault-key",
    "DATABASE_URL": "postgres://nexus@127.0.0.1:1/nexus",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


def load_production_settings(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in REQUIRED and not key.startswith("OIDC_")}
    env.update(environment, DJANGO_SETTINGS_MODULE="nexus.settings.production")
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True)


def test_production_starts_with_every_required_variable() -> None:
    result = load_production_settings(REQUIRED)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_production_refuses_to_start_without(missing: str) -> None:
    result = load_production_settings({key: value for key, value in REQUIRED.items() if key != missing})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr.splitlines()[-1]


def test_production_with_sso_needs_the_providers_secret_and_issuer() -> None:
    result = load_production_settings({**REQUIRED, "OIDC_RP_CLIENT_ID": "nexus"})

    assert result.returncode != 0
    assert "OIDC_RP_CLIENT_SECRET, OIDC_OP_ISSUER" in result.stderr

    configured = load_production_settings(
        {
            **REQUIRED,
            "OIDC_RP_CLIENT_ID": "nexus",
            "OIDC_RP_CLIENT_SECRET": "x",
            "OIDC_OP_ISSUER": "https://sso/realms/r",
        }
    )
    assert configured.returncode == 0, configured.stderr
