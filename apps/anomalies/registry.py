"""The model registry's files: a trained bundle (estimator, feature names, medians) saved through Django's storage
with joblib, and the organisation's deployed bundle read back (cached per process by model id)."""

from __future__ import annotations

import io
from typing import Any

import joblib  # type: ignore[import-untyped]
from django.core.files.base import ContentFile

from apps.anomalies.models import MLModel, ModelKind, ModelStatus

_loaded: dict[int, dict[str, Any]] = {}


def bundle_save(model: MLModel, bundle: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    joblib.dump({**bundle, "version": model.version}, buffer, compress=3)
    name = f"org-{model.organization_id}/{model.kind}-v{model.version}.joblib"
    model.artefact.save(name, ContentFile(buffer.getvalue()), save=False)


def bundle_load(model: MLModel) -> dict[str, Any]:
    cached = _loaded.get(model.pk)
    if cached is None:
        with model.artefact.open("rb") as handle:
            # Files written only by bundle_save, from models this application trained.
            cached = joblib.load(handle)
        _loaded[model.pk] = cached
    return cached


def deployed_model(*, organization_id: int, kind: str = ModelKind.RISK) -> MLModel | None:
    return MLModel.objects.filter(organization_id=organization_id, kind=kind, status=ModelStatus.DEPLOYED).first()


def deployed_bundle(*, organization_id: int, kind: str = ModelKind.RISK) -> dict[str, Any] | None:
    model = deployed_model(organization_id=organization_id, kind=kind)
    if model is None or not model.artefact:
        return None
    return bundle_load(model)
