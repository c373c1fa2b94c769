"""Reads on anomalies and the model registry, always through ``restrict()``: another organisation's rows do not
exist for the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from apps.anomalies.models import Anomaly, DriftAlert, MLModel, ModelStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User


def anomaly_list(
    *, user: User | AnonymousUser, before: int | None = None, after: int | None = None
) -> QuerySet[Anomaly]:
    """Newest first; ``before``/``after`` page by id (infinite scroll and live updates)."""
    queryset = Anomaly.objects.restrict(user, "view").order_by("-id")
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    return queryset


def anomaly_get(*, user: User | AnonymousUser, pk: int, action: str = "view") -> Anomaly:
    return Anomaly.objects.restrict(user, action).get(pk=pk)


def drift_alerts_open(*, user: User | AnonymousUser) -> QuerySet[DriftAlert]:
    return DriftAlert.objects.restrict(user, "view").filter(resolved_at__isnull=True).select_related("model")


def model_list(*, user: User | AnonymousUser) -> QuerySet[MLModel]:
    return MLModel.objects.restrict(user, "view").select_related("promoted_by", "trained_by", "dataset")


def model_deployed(*, user: User | AnonymousUser, kind: str = "risk") -> MLModel | None:
    return MLModel.objects.restrict(user, "view").filter(kind=kind, status=ModelStatus.DEPLOYED).first()


def anomaly_score_histogram(*, user: User | AnonymousUser, bins: int = 20) -> dict[str, Any]:
    """Per detector: how many anomalies fall in each score bin, and how many of those investigators confirmed or
    dismissed — what the what-if simulator needs to move a detector's threshold."""
    from django.db.models import Count, F, IntegerField, Q, Value
    from django.db.models.functions import Cast, Floor, Least

    rows = (
        Anomaly.objects.restrict(user, "view")
        .annotate(bin=Least(Cast(Floor(F("score") * Value(float(bins))), IntegerField()), Value(bins - 1)))
        .values("detector", "bin")
        .annotate(
            total=Count("id"),
            confirmed=Count("id", filter=Q(status__in=["confirmed", "in_case"])),
            dismissed=Count("id", filter=Q(status="dismissed")),
        )
    )
    result: dict[str, Any] = {}
    for row in rows:
        detector = result.setdefault(
            row["detector"], {"total": [0] * bins, "confirmed": [0] * bins, "dismissed": [0] * bins}
        )
        index = int(row["bin"])
        detector["total"][index] += row["total"]
        detector["confirmed"][index] += row["confirmed"]
        detector["dismissed"][index] += row["dismissed"]
    return result
