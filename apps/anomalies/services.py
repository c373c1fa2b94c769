"""Writes on anomalies: raise one (idempotent on its deduplication key) and change its status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.anomalies.models import Anomaly, AnomalyStatus, Severity
from apps.core.errors import DomainError

if TYPE_CHECKING:
    from apps.accounts.models import User

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
