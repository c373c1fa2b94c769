"""Thin Celery tasks of cases: each takes ids, calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.cases import reports, services


@shared_task(ignore_result=True)
def case_export_build(export_id: int) -> None:
    """Write a queued case report into storage."""
    reports.case_export_build(export_id=export_id)


@shared_task(ignore_result=True)
def case_due_reminders() -> dict[str, int]:
    """Remind teams of cases due soon and of overdue ones (beat, hourly); each reminder goes once per due date."""
    return services.case_due_reminders_send()


@shared_task(ignore_result=True)
def case_exports_prune() -> int:
    """Delete report files past their retention (beat, daily)."""
    return services.case_exports_prune()
