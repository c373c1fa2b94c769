"""Training from the UI on a mapped declarations file with its outcome column, and the registry page."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Organization, User
from apps.anomalies.models import MLModel, ModelStatus
from apps.core.notifications import user_group
from tests.anomalies.data import crafted_rows, load_declarations

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_supervisor_trains_on_one_mapped_file_and_sees_the_held_out_figures(
    organization: Organization,
    supervisor: User,
    investigator: User,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rows, _planted = crafted_rows(seed=8, honest=900)
    for row in rows:
        if row["fraud_found"] is not None:
            row["fraud_found"] = row["trader_code"].endswith("2")
            row["additional_revenue_uah"] = 500.0 if row["fraud_found"] else 0.0
    load_declarations(organization, rows[:100], name="інший файл")
    foreign = load_declarations(organization, rows, name="foreign-administration.csv")

    client = signed_in(supervisor)
    page = client.get(reverse("anomalies:models"))
    assert page.status_code == 200
    assert "foreign-administration.csv" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("anomalies:models"), {"dataset": foreign.pk})
    assert response.status_code == 302

    model = MLModel.objects.get(organization=organization)
    assert (model.dataset, model.status, model.trained_by) == (foreign, ModelStatus.DEPLOYED, supervisor)
    assert model.train_to < model.test_from
    for key in ("auc", "precision@1", "precision@2", "precision@5", "precision@10", "recall@5", "revenue@5"):
        assert key in model.metrics
    html = client.get(reverse("anomalies:models")).content.decode()
    assert f'data-model-version="{model.version}"' in html
    assert f"{model.metrics['precision@5']:.3f}" in html

    # Investigators neither see the registry nor train.
    assert signed_in(investigator).get(reverse("anomalies:models")).status_code == 403


def test_a_training_that_cannot_run_tells_the_supervisor_why(
    organization: Organization,
    supervisor: User,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rows, _planted = crafted_rows(seed=3, honest=120)
    for row in rows:
        row["fraud_found"] = None
    unlabelled = load_declarations(organization, rows, name="без результатів")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(supervisor.pk), channel)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(supervisor).post(reverse("anomalies:models"), {"dataset": unlabelled.pk})
    assert response.status_code == 302

    assert not MLModel.objects.exists()
    message = async_to_sync(layer.receive)(channel)
    payloads = message["payloads"]
    assert payloads["en"]["type"] == "anomalies.training_failed"
    assert payloads["en"]["text"].startswith("The risk model was not trained: too few inspected declarations")
    assert payloads["uk"]["text"] != payloads["en"]["text"]
