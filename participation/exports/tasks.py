"""Background work of exports: writing a bundle, and the sweep that expires bundles and fails dead jobs."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="exports.run", ignore_result=True)
def run_export(job_id: int) -> None:
    """Write one export's bundle (progress is committed and announced as it goes)."""
    from participation.exports.services import run_job

    run_job(job_id)


@shared_task(name="exports.sweep", ignore_result=True)
def sweep() -> dict:
    """Remove bundles past EXPORT_KEEP_HOURS; mark jobs whose worker died as failed."""
    from participation.core.uow import transaction
    from participation.exports.services import sweep as sweep_exports

    with transaction():
        return sweep_exports()
