"""WSGI entry point for production servers: `gunicorn -k gthread --threads 50 -w 1 participation.wsgi:app`."""

from participation import create_app

app = create_app()
