"""The OpenAPI schema: valid, pinned to docs/api/openapi.yaml, and its Swagger UI served from our own static files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.validation import validate_schema

COMMITTED_SCHEMA = Path(settings.BASE_DIR) / "docs" / "api" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def served_schema(db: None) -> dict[str, Any]:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_a_valid_openapi_3_document(served_schema: dict[str, Any]) -> None:
    assert served_schema["openapi"].startswith("3.")
    validate_schema(served_schema)


def test_the_schema_declares_api_key_and_bearer_authentication(served_schema: dict[str, Any]) -> None:
    schemes = served_schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["ApiKey"]["description"],
    }
    assert "Api-Key nxs_" in schemes["ApiKey"]["description"]
    assert (schemes["OidcBearer"]["type"], schemes["OidcBearer"]["scheme"]) == ("http", "bearer")


def test_every_operation_is_under_v1_and_accepts_an_api_key(served_schema: dict[str, Any]) -> None:
    assert served_schema["paths"], "the API has no endpoints"
    for path, operations in served_schema["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                assert {"ApiKey": []} in operation["security"], f"{method.upper()} {path}"


def test_the_committed_schema_matches_the_code() -> None:
    with translation.override("en"):
        generated = SchemaGenerator().get_schema(request=None, public=True)
    # Rendered and parsed back, so both sides hold plain types rather than lazy strings.
    generated = yaml.safe_load(OpenApiYamlRenderer().render(generated, renderer_context={}))
    committed = yaml.safe_load(COMMITTED_SCHEMA.read_text(encoding="utf-8"))
    assert committed == generated, "docs/api/openapi.yaml is out of date: run `make api-schema` and commit it"


def test_the_docs_render_from_local_static_assets_only(db: None) -> None:
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {asset.rsplit("/", 1)[-1] for asset in assets} >= {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    }
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset
    assert not re.search(r"https?://", html), "the docs page names an outside host"
    assert '"/api/schema/"' in html
    # Swagger UI's default online validator would send the schema's address to validator.swagger.io.
    assert '"validatorUrl": null' in html
