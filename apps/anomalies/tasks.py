"""Thin Celery tasks of the anomalies: each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.anomalies import services
from apps.core.errors import DomainError
from apps.core.notifications import notification_send_to_user

logger = logging.getLogger(__name__)


def anomalies_detect_dataset_hook(dataset_id: int) -> None:
    """Post-load hook (after entity resolution): score a freshly loaded declarations dataset."""
    from apps.datasets.models import Dataset, RecordKind

    dataset = Dataset.objects.filter(pk=dataset_id).only("organization_id", "kind").first()
    if dataset is None or dataset.kind != RecordKind.CUSTOMS_DECLARATION:
        return
    services.anomalies_detect(organization_id=dataset.organization_id, dataset_id=dataset_id)


@shared_task(ignore_result=True)
def anomalies_detect(organization_id: int) -> None:
    """Every detector over all of an organisation's data (the graph ones included: run after graph analysis)."""
    services.anomalies_detect(organization_id=organization_id)


@shared_task(ignore_result=True)
def anomalies_risk_retrain(organization_id: int, dataset_id: int | None = None, user_id: int | None = None) -> None:
    """Train a candidate risk model; it is deployed only if it beats the deployed one on the latest period."""
    from apps.accounts.models import User

    actor = User.objects.filter(pk=user_id).first() if user_id else None
    try:
        services.risk_model_train(organization_id=organization_id, dataset_id=dataset_id, actor=actor)
    except DomainError as error:
        logger.warning("risk model of organisation %s not trained: %s", organization_id, error)
        if actor is not None:
            notification_send_to_user(
                user_id=actor.pk,
                payload={
                    "type": "anomalies.training_failed",
                    "level": "error",
                    "text": format_lazy("{} {}", _("The risk model was not trained:"), error.args[0]),
                    "url": reverse("anomalies:models"),
                },
            )
        return
    transaction.on_commit(lambda: anomalies_drift_check.delay(organization_id))


@shared_task(ignore_result=True)
def anomalies_drift_check(organization_id: int) -> None:
    services.risk_drift_check(organization_id=organization_id)


@shared_task(ignore_result=True)
def anomalies_schedule_all() -> None:
    """Beat entry point: retrain and check drift for every active organisation, one task each."""
    from apps.accounts.models import Organization

    for organization_id in Organization.objects.filter(is_active=True).values_list("pk", flat=True):
        anomalies_risk_retrain.delay(organization_id)
        anomalies_detect.delay(organization_id)
