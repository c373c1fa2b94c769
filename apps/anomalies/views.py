"""The anomaly feed (newest first, filters, infinite scroll, live updates, verdicts) and the model registry page
(train on a mapped file, see each model's held-out figures and its comparison with the deployed one).

Every read goes through ``apps.anomalies.selectors`` (another organisation's anomaly is a 404); verdicts go through
``anomaly_status_set`` (audited). Titles and explanations carry masking tokens only, never a clear personal value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from apps.anomalies import selectors, services
from apps.anomalies.filtersets import AnomalyFilterSet
from apps.anomalies.forms import AnomalyVerdictForm, ModelTrainForm
from apps.anomalies.models import Anomaly, AnomalyStatus
from apps.core.errors import DomainError

if TYPE_CHECKING:
    from apps.accounts.models import User

PAGE_SIZE = 25
REPORTED_PERCENTS = (1, 2, 5, 10)


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def case_create_url(anomaly: Anomaly) -> str:
    """The "open a case from this anomaly" page."""
    return f"{reverse('cases:case-create')}?anomaly={anomaly.pk}"


def _items(request: HttpRequest, anomalies: list[Anomaly]) -> list[dict[str, Any]]:
    language = "uk" if (request.LANGUAGE_CODE or "").startswith("uk") else "en"
    from apps.anomalies.filtersets import detector_choices

    labels = dict(detector_choices())
    return [
        {
            "anomaly": anomaly,
            "detector_label": labels.get(anomaly.detector, anomaly.detector),
            "text": anomaly.explanation.get(language) or anomaly.explanation.get("en", ""),
            "factors": anomaly.explanation.get("factors", []),
            "case_url": case_create_url(anomaly),
        }
        for anomaly in anomalies
    ]


@login_required
@permission_required("anomalies.view_anomaly", raise_exception=True)
@require_safe
def feed(request: HttpRequest) -> HttpResponse:
    """The page, or (HTMX) the next page of items below ``before``, or the new items above ``after``."""
    filterset = AnomalyFilterSet(request.GET)
    before, after = _int(request.GET.get("before")), _int(request.GET.get("after"))
    queryset = filterset.filter(selectors.anomaly_list(user=request.user, before=before, after=after))
    anomalies = list(queryset.prefetch_related("entities")[: PAGE_SIZE + 1])
    has_more = after is None and len(anomalies) > PAGE_SIZE
    anomalies = anomalies[:PAGE_SIZE]
    context = {
        "filterset": filterset,
        "filter_query": filterset.query(),
        "items": _items(request, anomalies),
        "has_more": has_more,
        "last_id": anomalies[-1].pk if anomalies else None,
        "can_change": request.user.has_perm("anomalies.change_anomaly"),
    }
    if request.htmx and (before is not None or after is not None):  # type: ignore[attr-defined]
        return render(request, "anomalies/partials/feed_items.html", context)
    context["drift_alerts"] = list(selectors.drift_alerts_open(user=request.user))
    context["newest_id"] = anomalies[0].pk if anomalies else 0
    if request.htmx and request.headers.get("HX-Target") == "feed-list":  # type: ignore[attr-defined]
        return render(request, "anomalies/partials/feed_list.html", context)
    return render(request, "anomalies/feed.html", context)


@login_required
@permission_required("anomalies.view_anomaly", raise_exception=True)
@require_safe
def anomaly_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        anomaly = selectors.anomaly_get(user=request.user, pk=pk)
    except Anomaly.DoesNotExist:
        raise Http404(_("No such anomaly.")) from None
    item = _items(request, [anomaly])[0]
    return render(
        request,
        "anomalies/anomaly_detail.html",
        {
            "item": item,
            "entities": anomaly.entities.all(),
            "can_change": request.user.has_perm("anomalies.change_anomaly"),
        },
    )


@login_required
@permission_required(("anomalies.view_anomaly", "anomalies.change_anomaly"), raise_exception=True)
@require_POST
def anomaly_verdict(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, or dismiss with a reason; HTMX gets the item back, a plain form goes back to the feed."""
    try:
        anomaly = selectors.anomaly_get(user=request.user, pk=pk, action="change")
    except Anomaly.DoesNotExist:
        raise Http404(_("No such anomaly.")) from None
    form = AnomalyVerdictForm(request.POST)
    error = ""
    if form.is_valid():
        status = AnomalyStatus.CONFIRMED if form.cleaned_data["action"] == "confirm" else AnomalyStatus.DISMISSED
        try:
            services.anomaly_status_set(
                anomaly=anomaly, user=_user(request), status=status, reason=form.cleaned_data["reason"]
            )
        except DomainError as refused:
            error = str(refused)
    else:
        error = " ".join(str(message) for messages_ in form.errors.values() for message in messages_)
    if request.htmx:  # type: ignore[attr-defined]
        # A refusal is answered with the item and its message (HTMX swaps only 2xx answers).
        return render(
            request,
            "anomalies/partials/feed_item.html",
            {"item": _items(request, [anomaly])[0], "can_change": True, "error": error},
        )
    if error:
        messages.error(request, error)
    return redirect("anomalies:feed")


@login_required
@permission_required("anomalies.view_mlmodel", raise_exception=True)
def model_list(request: HttpRequest) -> HttpResponse:
    """The registry: every model with its held-out figures and comparison; supervisors train a new one here."""
    can_train = request.user.has_perm("anomalies.add_mlmodel")
    form = ModelTrainForm(request.POST or None, user=_user(request))
    if request.method == "POST":
        if not can_train:
            raise Http404
        if form.is_valid():
            from apps.anomalies.tasks import anomalies_risk_retrain

            dataset = form.cleaned_data["dataset"]
            organization_id = cast(int, _user(request).organization_id)
            user_id = request.user.pk
            transaction.on_commit(
                lambda: anomalies_risk_retrain.delay(organization_id, dataset.pk if dataset else None, user_id)
            )
            messages.success(
                request,
                _("Training started. The new model appears here when it is ready, deployed only if it is better."),
            )
            return redirect("anomalies:models")
    rows = [{"model": model, **_figures(model.metrics)} for model in selectors.model_list(user=request.user)[:50]]
    return render(
        request,
        "anomalies/model_list.html",
        {
            "rows": rows,
            "form": form,
            "can_train": can_train,
            "drift_alerts": list(selectors.drift_alerts_open(user=request.user)),
            "reported": REPORTED_PERCENTS,
        },
    )


def _figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metric names carry "@", which templates cannot look up: the figures the registry table shows."""
    comparison = metrics.get("comparison") or {}
    deployed = comparison.get("deployed")
    return {
        "auc": metrics.get("auc"),
        "precision": [metrics.get(f"precision@{k}") for k in REPORTED_PERCENTS],
        "recall5": metrics.get("recall@5"),
        "revenue5": metrics.get("revenue@5"),
        "compared": deployed is not None,
        "deployed_version": comparison.get("deployed_version"),
        "deployed_precision5": deployed.get("precision@5") if deployed else None,
        "deployed_auc": deployed.get("auc") if deployed else None,
        "better": comparison.get("better"),
    }
