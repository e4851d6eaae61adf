"""Background work for routing: route analysed submissions, retrain the router."""

from __future__ import annotations

from celery import shared_task

from participation.core.uow import transaction


@shared_task(name="routing.retrain_router")
def retrain_router() -> int:
    """Fit and store a new router from the catalog and every confirmed ticket."""
    from participation.routing.engine import forget, retrain

    with transaction():
        model = retrain()
    forget()
    return model.id


@shared_task(name="routing.maybe_retrain")
def maybe_retrain() -> int | None:
    """Retrain when enough new confirmations have arrived since the stored router was fitted."""
    from participation.routing.engine import retrain_due

    if retrain_due():
        return retrain_router()
    return None
