"""Periodic deadline work: the checkpoint sweep, run by Celery beat (or the embedded scheduler)."""

from __future__ import annotations

from celery import shared_task

from participation.core.uow import transaction


@shared_task(name="deadlines.sweep", ignore_result=True)
def sweep_checkpoints() -> int:
    """Fire due checkpoints (each exactly once) and end pauses that reached their cap."""
    from participation.deadlines.services import sweep

    with transaction():
        return sweep()
