"""Entry point for Celery worker and beat processes: `celery -A participation.worker:celery worker`."""

from participation import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
