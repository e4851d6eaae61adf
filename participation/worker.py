"""Entry point for Celery worker and beat processes: `celery -A participation.worker worker`."""

from participation import create_app

app = create_app()
celery = app.extensions["celery"]
