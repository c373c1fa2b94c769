"""Writes on anomalies: raise one (idempotent on its deduplication key) or many at once from a detection run,
change a status; detector settings; training, comparing and promoting risk models; drift checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy, ngettext_lazy

from apps.anomalies.models import (
    Anomaly,
    AnomalyStatus,
    DetectorConfig,
    DriftAlert,
    MirrorStatistic,
    MLModel,
    ModelKind,
    ModelStatus,
    Severity,
)
from apps.core.errors import DomainError
from apps.core.notifications import notification_send_to_organization

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.anomalies.detectors import Finding

logger = logging.getLogger(__name__)

EXPLANATION_LANGUAGES = ("en", "uk")
DISMISS_REASON_REQUIRED = gettext_lazy("Say why the anomaly is dismissed.")


def _check_explanation(explanation: Mapping[str, Any]) -> None:
    """An anomaly nobody can read is useless: both languages' text and the factors are required."""
    for language in EXPLANATION_LANGUAGES:
        text = explanation.get(language)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"an anomaly's explanation needs its {language!r} text")
    factors = explanation.get("factors")
    if not isinstance(factors, list) or not factors:
        raise ValueError("an anomaly's explanation needs at least one factor")
    for factor in factors:
        if not isinstance(factor, dict) or not {"feature", "value", "peer", "contribution"} <= factor.keys():
            raise ValueError(f"an explanation factor needs feature, value, peer and contribution: {factor!r}")


def anomaly_raise(
    *,
    organization_id: int,
    detector: str,
    dedup_key: str,
    score: float,
    severity: Severity | str,
    title: str,
    explanation: Mapping[str, Any],
    entity_ids: Iterable[int],
    records: Sequence[Mapping[str, Any]],
) -> tuple[Anomaly, bool]:
    """The organisation's anomaly with ``dedup_key``, created if it has none: ``(anomaly, created)``.

    An anomaly raised again is returned as it is; its status, and whatever an investigator did with it, stay.
    """
    if not dedup_key:
        raise ValueError("an anomaly needs a deduplication key")
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"an anomaly's score is between 0 and 1, not {score}")
    _check_explanation(explanation)
    existing = Anomaly.objects.filter(organization_id=organization_id, dedup_key=dedup_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            anomaly = Anomaly.objects.create(
                organization_id=organization_id,
                detector=detector,
                dedup_key=dedup_key,
                score=score,
                severity=Severity(severity),
                title=title[: Anomaly._meta.get_field("title").max_length],
                explanation=dict(explanation),
                records=[dict(record) for record in records],
            )
            anomaly.entities.set(sorted(set(entity_ids)))
    except IntegrityError:
        # Another worker raised the same anomaly between our read and our write.
        return Anomaly.objects.get(organization_id=organization_id, dedup_key=dedup_key), False
    return anomaly, True


def anomaly_status_set(*, anomaly: Anomaly, user: User, status: AnomalyStatus | str, reason: str = "") -> Anomaly:
    """An investigator's verdict on an anomaly; dismissing one needs the reason. Audited by django-auditlog."""
    status = AnomalyStatus(status)
    reason = reason.strip()
    if status == AnomalyStatus.DISMISSED and not reason:
        raise DomainError(str(DISMISS_REASON_REQUIRED))
    anomaly.status = status
    anomaly.status_reason = reason
    anomaly.status_changed_by = user
    anomaly.status_changed_at = timezone.now()
    anomaly.save(update_fields=["status", "status_reason", "status_changed_by", "status_changed_at", "updated_at"])
    return anomaly


# Live notifications per run: one per new anomaly up to this many, then one summary for the rest.
NOTIFY_EACH = 10
WORSE_CANDIDATE = gettext_lazy("The candidate does not beat the deployed model on the most recent period.")
DRIFT_POINTS = 0.05
DRIFT_MIN_LABELLED = 50


def detector_settings(*, organization_id: int) -> tuple[dict[str, dict[str, Any]], dict[str, bool]]:
    """Parameters and on/off of every registered detector for the organisation; missing settings are created
    with the defaults, so administrators find every detector in admin."""
    from apps.anomalies.detectors import DETECTORS

    existing = {config.name: config for config in DetectorConfig.objects.filter(organization_id=organization_id)}
    missing = [
        DetectorConfig(organization_id=organization_id, name=name, params=detector.parameters())
        for name, detector in DETECTORS.items()
        if name not in existing
    ]
    if missing:
        DetectorConfig.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {config.name: config for config in DetectorConfig.objects.filter(organization_id=organization_id)}
    params = {name: dict(config.params) for name, config in existing.items() if name in DETECTORS}
    enabled = {name: config.enabled for name, config in existing.items()}
    return params, enabled


def _trader_entities(organization_id: int, codes: set[str]) -> dict[str, int]:
    from apps.entities.models import EntityIdentifier
    from apps.entities.resolution import entity_roots

    if not codes:
        return {}
    pairs = list(
        EntityIdentifier.objects.filter(organization_id=organization_id, value__in=codes).values_list(
            "value", "entity_id"
        )
    )
    roots = entity_roots(entity_id for _value, entity_id in pairs)
    return {value: roots.get(entity_id, entity_id) for value, entity_id in pairs}


def anomalies_store(*, organization_id: int, findings: Sequence[Finding]) -> list[int]:
    """Raise a detection run's findings at once; the ones already raised (same key) stay as they are.

    Returns the ids of the new anomalies, announced to the organisation's open pages once committed.
    """
    if not findings:
        return []
    unique = {finding.dedup_key: finding for finding in findings}
    for finding in unique.values():
        _check_explanation(finding.explanation)
    keys = list(unique)
    with transaction.atomic():
        known = set(
            Anomaly.objects.filter(organization_id=organization_id, dedup_key__in=keys).values_list(
                "dedup_key", flat=True
            )
        )
        new = [finding for key, finding in unique.items() if key not in known]
        title_length = Anomaly._meta.get_field("title").max_length or 500
        Anomaly.objects.bulk_create(
            [
                Anomaly(
                    organization_id=organization_id,
                    detector=finding.detector,
                    dedup_key=finding.dedup_key,
                    score=min(max(finding.score, 0.0), 1.0),
                    severity=finding.severity,
                    title=finding.title[:title_length],
                    explanation=finding.explanation,
                    records=[{"kind": finding.record_kind, "id": record_id} for record_id in finding.record_ids],
                    goods_chapter=finding.goods_chapter,
                    country=finding.country,
                    customs_office_code=finding.customs_office_code,
                    occurred_on=finding.occurred_on,
                )
                for finding in new
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        created = dict(
            Anomaly.objects.filter(
                organization_id=organization_id, dedup_key__in=[finding.dedup_key for finding in new]
            ).values_list("dedup_key", "id")
        )
        entities = _trader_entities(organization_id, {code for finding in new for code in finding.trader_codes})
        through = Anomaly.entities.through
        links = {
            (created[finding.dedup_key], entity_id)
            for finding in new
            if finding.dedup_key in created
            for entity_id in [
                *finding.entity_ids,
                *(entities[code] for code in finding.trader_codes if code in entities),
            ]
        }
        through.objects.bulk_create(
            [through(anomaly_id=anomaly_id, entity_id=entity_id) for anomaly_id, entity_id in links],
            batch_size=5000,
            ignore_conflicts=True,
        )
        ids = sorted(created.values(), reverse=True)
        _announce(organization_id, ids, {finding.dedup_key: finding for finding in new}, created)
    return ids


def _announce(
    organization_id: int, ids: list[int], findings: Mapping[str, Finding], created: Mapping[str, int]
) -> None:
    if not ids:
        return
    by_id = {anomaly_id: findings[key] for key, anomaly_id in created.items()}
    url = reverse("anomalies:feed")
    for anomaly_id in ids[:NOTIFY_EACH]:
        finding = by_id[anomaly_id]
        notification_send_to_organization(
            organization_id=organization_id,
            payload={
                "type": "anomaly.new",
                "level": "warning",
                "text": finding.title,
                "url": url,
                "anomaly": anomaly_id,
                "severity": finding.severity.value,
            },
        )
    rest = len(ids) - NOTIFY_EACH
    if rest > 0:
        notification_send_to_organization(
            organization_id=organization_id,
            payload={
                "type": "anomaly.batch",
                "level": "warning",
                "text": ngettext_lazy("%(count)d more new anomaly", "%(count)d more new anomalies", "count")
                % {"count": rest},
                "url": url,
                "anomaly": ids[0],
            },
        )


def mirror_frame(*, organization_id: int) -> pd.DataFrame | None:
    rows = list(
        MirrorStatistic.objects.filter(organization_id=organization_id).values_list(
            "country", "hs6", "month", "partner_usd"
        )
    )
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["country", "hs6", "month", "partner_usd"])
    frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
    frame["partner_usd"] = frame["partner_usd"].astype(float)
    return frame


def anomalies_detect(*, organization_id: int, dataset_id: int | None = None) -> dict[str, Any]:
    """Run every enabled detector and the deployed risk model over the organisation's declarations and raise
    what they find. With ``dataset_id``, declaration findings are raised only on that dataset's rows (the peers
    and histories still come from every declaration). Safe to run twice: raising is idempotent."""
    from apps.anomalies.detectors import DetectionContext
    from apps.anomalies.engine import detect
    from apps.anomalies.frame import declarations_frame, registry_frame

    started = time.perf_counter()
    frame = declarations_frame(organization_id=organization_id)
    scope = None if dataset_id is None else (frame["dataset_id"].to_numpy() == dataset_id)
    context = DetectionContext(
        frame=frame,
        organization_id=organization_id,
        scope=scope,
        registry_loader=lambda: registry_frame(organization_id=organization_id),
        mirror=mirror_frame(organization_id=organization_id),
    )
    params, enabled = detector_settings(organization_id=organization_id)
    detection = detect(context, params, enabled=enabled)
    created = anomalies_store(organization_id=organization_id, findings=detection.findings)
    return {
        "declarations": len(frame),
        "findings": len(detection.findings),
        "created": len(created),
        "seconds": round(time.perf_counter() - started, 3),
        "detectors": detection.seconds,
    }


def _training_frame(organization_id: int, dataset_id: int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The declarations a model learns from and their detector scores (the model's features)."""
    from apps.anomalies.detectors import DetectionContext
    from apps.anomalies.engine import RISK_DETECTOR, detect
    from apps.anomalies.frame import declarations_frame, registry_frame

    frame = declarations_frame(organization_id=organization_id, dataset_id=dataset_id)
    context = DetectionContext(
        frame=frame,
        organization_id=organization_id,
        registry_loader=lambda: registry_frame(organization_id=organization_id),
        mirror=mirror_frame(organization_id=organization_id),
    )
    params, enabled = detector_settings(organization_id=organization_id)
    enabled = {**enabled, RISK_DETECTOR: False}
    detection = detect(context, params, enabled=enabled, with_findings=False)
    return frame, detection.scores


def _public_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key != "curve"}


def risk_model_train(
    *, organization_id: int, dataset_id: int | None = None, actor: User | None = None, promote: bool = True
) -> MLModel:
    """Train a candidate on the inspected declarations before the time split, measure it on the most recent
    period, store it in the registry, and deploy it if it beats the deployed model on that same period."""
    from apps.anomalies.engine import risk_evaluate, risk_train
    from apps.anomalies.registry import bundle_save

    frame, scores = _training_frame(organization_id, dataset_id)
    try:
        training = risk_train(frame, scores)
    except ValueError as error:
        # The reason stays lazy: it is shown to each reader in their language.
        raise DomainError(error.args[0]) from error
    with transaction.atomic():
        version = (
            MLModel.objects.filter(organization_id=organization_id, kind=ModelKind.RISK).aggregate(top=Max("version"))[
                "top"
            ]
            or 0
        ) + 1
        model = MLModel(
            organization_id=organization_id,
            kind=ModelKind.RISK,
            version=version,
            dataset_id=dataset_id,
            train_from=training.train_from.date(),
            train_to=training.train_to.date(),
            test_from=training.test_from.date(),
            test_to=training.test_to.date(),
            params={**training.bundle["params"], "features": training.bundle["features"]},
            metrics=training.metrics,
            trained_by=actor,
        )
        bundle_save(model, training.bundle)
        model.save()
    deployed = MLModel.objects.filter(
        organization_id=organization_id, kind=ModelKind.RISK, status=ModelStatus.DEPLOYED
    ).first()
    comparison: dict[str, Any] = {"candidate": _public_metrics(training.metrics)}
    if deployed is not None:
        from apps.anomalies.registry import bundle_load

        comparison["deployed_version"] = deployed.version
        comparison["deployed"] = _public_metrics(
            risk_evaluate(bundle_load(deployed), frame, training.features, training.test_mask)
        )
    comparison["better"] = _is_better(comparison)
    model.metrics = {**training.metrics, "comparison": comparison}
    model.save(update_fields=["metrics", "updated_at"])
    if promote and comparison["better"]:
        risk_model_promote(model=model, actor=actor)
    return model


def _is_better(comparison: Mapping[str, Any]) -> bool:
    """Precision at 5 % decides; equal precision is settled by AUC. No deployed model: any candidate is better."""
    from apps.anomalies.risk import PRIMARY_METRIC

    deployed = comparison.get("deployed")
    if deployed is None:
        return True
    candidate = comparison["candidate"]
    ours, theirs = candidate.get(PRIMARY_METRIC) or 0.0, deployed.get(PRIMARY_METRIC) or 0.0
    if abs(ours - theirs) > 1e-9:
        return bool(ours > theirs)
    return bool((candidate.get("auc") or 0.0) > (deployed.get("auc") or 0.0))


def risk_model_promote(*, model: MLModel, actor: User | None) -> MLModel:
    """Deploy a candidate, retiring the deployed model; refused unless it beat that model on the held-out period."""
    if model.status != ModelStatus.CANDIDATE:
        raise DomainError(str(gettext_lazy("Only a candidate can be promoted.")))
    if not model.metrics.get("comparison", {}).get("better"):
        raise DomainError(str(WORSE_CANDIDATE))
    with transaction.atomic():
        current = (
            MLModel.objects.select_for_update()
            .filter(organization_id=model.organization_id, kind=model.kind, status=ModelStatus.DEPLOYED)
            .first()
        )
        if current is not None and current.version != model.metrics["comparison"].get("deployed_version"):
            # Another model was deployed since this one was compared: the comparison no longer holds.
            raise DomainError(str(WORSE_CANDIDATE))
        if current is not None:
            current.status = ModelStatus.RETIRED
            current.save(update_fields=["status", "updated_at"])
        model.status = ModelStatus.DEPLOYED
        model.promoted_by = actor
        model.promoted_at = timezone.now()
        model.save(update_fields=["status", "promoted_by", "promoted_at", "updated_at"])
        DriftAlert.objects.filter(organization_id=model.organization_id, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
    return model


def _verdict_labels(organization_id: int) -> dict[int, float]:
    """Investigators' verdicts as outcomes of the declarations they are about: confirmed 1, dismissed 0."""
    labels: dict[int, float] = {}
    for status, records in Anomaly.objects.filter(
        organization_id=organization_id, status__in=[AnomalyStatus.CONFIRMED, AnomalyStatus.DISMISSED]
    ).values_list("status", "records"):
        for record in records:
            if record.get("kind") == "customs_declaration":
                labels[int(record["id"])] = 1.0 if status == AnomalyStatus.CONFIRMED else 0.0
    return labels


def risk_drift_check(*, organization_id: int, percent: int = 5) -> DriftAlert | None:
    """Compare the deployed model's precision at ``percent`` % on declarations labelled after its held-out
    period (inspection outcomes and investigators' verdicts) with its validation figure; a drop of more than
    five points raises a drift alert, shown on the feed and announced live."""
    from apps.anomalies.detectors import DetectionContext
    from apps.anomalies.engine import detect
    from apps.anomalies.frame import declarations_frame, registry_frame
    from apps.anomalies.registry import bundle_load, deployed_model
    from apps.anomalies.risk import ranking_metrics

    model = deployed_model(organization_id=organization_id)
    if model is None:
        return None
    validation = model.metrics.get(f"precision@{percent}")
    if validation is None:
        return None
    frame = declarations_frame(organization_id=organization_id, dataset_id=model.dataset_id)
    verdicts = _verdict_labels(organization_id)
    if verdicts:
        override = frame["id"].map(verdicts)
        frame["fraud_found"] = override.fillna(frame["fraud_found"]).astype("float64")
    recent = (frame["declaration_date"] > pd.Timestamp(model.test_to)).to_numpy() | frame["id"].isin(
        verdicts
    ).to_numpy()
    recent &= frame["fraud_found"].notna().to_numpy()
    if recent.sum() < DRIFT_MIN_LABELLED:
        return None
    context = DetectionContext(
        frame=frame,
        organization_id=organization_id,
        registry_loader=lambda: registry_frame(organization_id=organization_id),
        mirror=mirror_frame(organization_id=organization_id),
    )
    params, enabled = detector_settings(organization_id=organization_id)
    detection = detect(context, params, enabled=enabled, bundle=bundle_load(model), with_findings=False)
    scores = detection.scores.get("risk-model")
    if scores is None:
        return None
    outcome = frame["fraud_found"].to_numpy(dtype=np.float64)[recent]
    revenue = frame["additional_revenue_uah"].to_numpy(dtype=np.float64, na_value=np.nan)[recent]
    recent_precision = ranking_metrics(outcome, scores[recent], revenue)[f"precision@{percent}"]
    if recent_precision >= validation - DRIFT_POINTS:
        return None
    alert = DriftAlert.objects.create(
        organization_id=organization_id,
        model=model,
        validation_precision=validation,
        recent_precision=recent_precision,
        labelled=int(recent.sum()),
    )
    notification_send_to_organization(
        organization_id=organization_id,
        payload={
            "type": "anomaly.drift",
            "level": "error",
            "text": format_lazy(
                gettext_lazy(
                    "Model drift: the risk model's precision on newly labelled declarations fell to {recent}% "
                    "from {validation}% at validation. Retrain it."
                ),
                recent=round(100 * recent_precision),
                validation=round(100 * validation),
            ),
            "url": reverse("anomalies:feed"),
        },
    )
    return alert
