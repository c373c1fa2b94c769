"""The canary walk over the websocket: a sole trader's known name and tax number go in through the real ingestion,
its post-load hooks (entity resolution, anomaly detection) and a case opened from the findings; every message the
sockets of two users without an unlock receive meanwhile (their own pipeline progress, the organisation's anomaly
feed, case notifications) is read, and none may carry a canary in clear.

Transactional: messages leave only when a transaction commits, and the consumer reads the session on its own
connection.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files import File
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization, User
from apps.anomalies.models import Anomaly
from apps.cases import services as case_services
from apps.datasets import services as dataset_services
from apps.datasets.models import DatasetSource, DatasetStatus, RecordKind
from apps.datasets.synthetic.codes import edrpou_from_prefix
from apps.privacy.models import PIIDisclosure
from tests.anomalies.data import SPLITTER, crafted_rows
from tests.core.test_websocket import QUIET, TIMEOUT, open_socket, session_cookie
from tests.privacy.test_canary_walk import CANARY_CODE, CANARY_NAME, leaked_canaries

pytestmark = pytest.mark.django_db(transaction=True)


def declarations_csv(path: Path) -> Path:
    """The crafted declarations, the split shipments' trader being the canary sole trader, named in clear."""
    rows, _planted = crafted_rows()
    for row in rows:
        # The crafted companies' codes, made valid: the pipeline checks the check digit.
        for field in ("declarant_code", "trader_code"):
            if len(row[field]) == 8:
                row[field] = edrpou_from_prefix(int(row[field][:7]))
        if row["trader_code"] == SPLITTER:
            row["trader_code"] = CANARY_CODE
            row["trader_name"] = f"ФОП {CANARY_NAME}"
    header = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def ingest_and_open_a_case(path: Path, organization: Organization, investigator: User, supervisor: User) -> int:
    with path.open("rb") as handle:
        created = dataset_services.dataset_create(
            organization=organization,
            user=investigator,
            file=File(handle, name=path.name),
            name="декларації",
            kind=RecordKind.CUSTOMS_DECLARATION,
            source=DatasetSource.UPLOAD,
            enqueue=False,
        )
    dataset = dataset_services.dataset_run(dataset_id=created.dataset.pk, hooks_inline=True)
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert dataset.rows_quarantined == 0, dataset.validation_report["failures"]
    anomalies = list(Anomaly.objects.filter(organization=organization))
    case = case_services.case_create(
        actor=supervisor,
        organization=organization,
        title="Дроблення поставок",
        team=[investigator],
        anomalies=anomalies,
        entities=[entity for anomaly in anomalies for entity in anomaly.entities.all()],
    )
    case_services.case_task_add(actor=supervisor, case=case, title="Запит до банку", assignee=investigator)
    return len(anomalies)


async def drain(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every message waiting on the socket, until it stays quiet."""
    received = []
    while not await socket.receive_nothing(timeout=QUIET):
        received.append(await socket.receive_json_from(timeout=TIMEOUT))
    return received


async def test_no_canary_in_clear_in_any_websocket_message(
    organization: Organization,
    investigator: User,
    supervisor: User,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    assert not await database_sync_to_async(investigator.has_perm)("accounts.view_pii")
    path = declarations_csv(tmp_path / "declarations.csv")
    investigator_cookie = await database_sync_to_async(session_cookie)(investigator)
    supervisor_cookie = await database_sync_to_async(session_cookie)(supervisor)

    async with open_socket(investigator_cookie) as investigator_socket, open_socket(supervisor_cookie) as other:
        anomalies = await database_sync_to_async(ingest_and_open_a_case)(path, organization, investigator, supervisor)
        messages = {"investigator": await drain(investigator_socket), "supervisor": await drain(other)}

    texts = {who: json.dumps(received, ensure_ascii=False) for who, received in messages.items()}
    assert {who: leaked_canaries(text) for who, text in texts.items()} == {"investigator": [], "supervisor": []}
    # The walk saw every kind of message, the canary trader's own finding among them.
    types = {message["type"] for message in messages["investigator"]}
    assert {"anomaly.new", "case.assigned", "case.task", "dataset.progress", "dataset.ready"} <= types, types
    assert anomalies > 0
    split_shipment = await database_sync_to_async(lambda: Anomaly.objects.get(detector="split-shipment").pk)()
    announced = {message.get("anomaly") for message in messages["supervisor"]}
    assert split_shipment in announced
    assert not await database_sync_to_async(PIIDisclosure.objects.exists)()
