"""The one place later stages attach to a freshly loaded dataset.

Entity resolution, search indexing and anomaly scoring each register a *post-load hook*: a function called with
the id of a dataset once its rows are committed and visible (status ``ready``). The loader knows nothing about
them, so adding a stage never touches the pipeline.

Register in your app's ``AppConfig.ready()``::

    from apps.datasets.hooks import register_post_load

    class EntitiesConfig(AppConfig):
        def ready(self) -> None:
            register_post_load("entities.resolve", resolve_dataset_entities)

Contract:

- hooks run in registration order, in the Celery task ``apps.datasets.tasks.dataset_post_load`` (queued when the
  load transaction commits; ``manage.py ingest --wait`` runs them in its own process), never before the commit;
- a hook gets the dataset id only and reads the rows itself (``RECORD_MODELS[dataset.kind]``, filtered on the
  dataset, or the Parquet archive in ``Dataset.parquet_file``);
- a hook must be safe to run twice on the same dataset (a retried task runs every hook again);
- a hook that raises is logged and recorded in the run's statistics (``stats["hooks"]``); the dataset stays
  loaded and the other hooks still run. A hook that needs retries queues its own task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

PostLoadHook = Callable[[int], Any]

_post_load_hooks: dict[str, PostLoadHook] = {}


def register_post_load(name: str, hook: PostLoadHook) -> None:
    """Call ``hook(dataset_id)`` after every dataset load commits. Registering a name again replaces its hook."""
    _post_load_hooks[name] = hook


def unregister_post_load(name: str) -> None:
    _post_load_hooks.pop(name, None)


def post_load_hooks() -> list[tuple[str, PostLoadHook]]:
    return list(_post_load_hooks.items())


def post_load_run(dataset_id: int) -> dict[str, dict[str, Any]]:
    """Run every hook for a dataset: ``{name: {"ok": bool, "seconds": float, "error": str}}``."""
    results: dict[str, dict[str, Any]] = {}
    for name, hook in post_load_hooks():
        started = time.perf_counter()
        try:
            hook(dataset_id)
        # One stage failing must not keep the others from the new rows; the failure is logged and recorded.
        except Exception as error:
            logger.exception("post-load hook %s failed on dataset %s", name, dataset_id)
            results[name] = {
                "ok": False,
                "seconds": round(time.perf_counter() - started, 3),
                "error": f"{type(error).__name__}: {error}",
            }
        else:
            results[name] = {"ok": True, "seconds": round(time.perf_counter() - started, 3), "error": ""}
    return results
