"""Thin Celery tasks of the privacy app; safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.privacy.services import pii_disclosure_purge


@shared_task(ignore_result=True)
def purge_disclosures() -> int:
    """Delete disclosure records past their retention (beat: daily)."""
    return pii_disclosure_purge()
