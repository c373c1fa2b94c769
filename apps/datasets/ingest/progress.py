"""Live progress of a dataset run: in the cache for the dataset page to poll, and on the uploader's websocket.

A load runs inside one long database transaction, so nothing it writes to the database is visible until the
end. Progress therefore goes around the transaction: to the cache (Redis) and straight to the channel layer —
not through ``apps.core.notifications.notification_send_to_user``, which waits for the commit.
Publishing is best effort: an unreachable Redis slows nothing and fails nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.notifications import NOTIFICATION_MESSAGE, notification_render, user_group
from apps.datasets.models import DatasetStage, DatasetStatus

logger = logging.getLogger(__name__)

PROGRESS_TIMEOUT_SECONDS = 24 * 3600
PUBLISH_INTERVAL_SECONDS = 0.5
PROGRESS_MESSAGE_TYPE = "dataset.progress"


def progress_key(dataset_id: int) -> str:
    return f"datasets:progress:{dataset_id}"


@dataclass
class Progress:
    dataset_id: int
    status: str = DatasetStatus.RUNNING
    stage: str = DatasetStage.DETECT
    percent: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    updated_at: float = field(default_factory=time.time)


def progress_get(dataset_id: int) -> Progress | None:
    """The last published progress of a dataset's run, if any is recent."""
    data = cache.get(progress_key(dataset_id))
    return Progress(**data) if isinstance(data, dict) else None


class ProgressPublisher:
    """Publishes a run's progress at most twice a second, and always on a change of stage or status."""

    def __init__(self, *, dataset_id: int, dataset_name: str, user_id: int | None) -> None:
        self.progress = Progress(dataset_id=dataset_id)
        self.dataset_name = dataset_name
        self.user_id = user_id
        self._last_published = 0.0
        self._last_key: tuple[str, str] = ("", "")

    def update(self, *, force: bool = False, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.progress, name, value)
        now = time.monotonic()
        key = (self.progress.status, self.progress.stage)
        if not force and key == self._last_key and now - self._last_published < PUBLISH_INTERVAL_SECONDS:
            return
        self._last_key = key
        self._last_published = now
        self.progress.updated_at = time.time()
        self._publish()

    def _publish(self) -> None:
        progress = asdict(self.progress)
        try:
            cache.set(progress_key(self.progress.dataset_id), progress, PROGRESS_TIMEOUT_SECONDS)
            if self.user_id is not None:
                payload = {
                    "type": PROGRESS_MESSAGE_TYPE,
                    "text": format_lazy(
                        _("{name}: {stage}, {percent}%"),
                        name=self.dataset_name,
                        stage=DatasetStage(self.progress.stage).label,
                        percent=self.progress.percent,
                    ),
                    **progress,
                }
                message = {"type": NOTIFICATION_MESSAGE, "payloads": notification_render(payload=payload)}
                async_to_sync(get_channel_layer().group_send)(user_group(self.user_id), message)
        # Progress is a courtesy to the watcher: whatever breaks here must not break the load.
        except Exception:
            logger.warning("dataset %s: progress not published", self.progress.dataset_id, exc_info=True)
