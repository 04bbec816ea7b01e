"""The WSGI entry point: ``gunicorn wsgi:app`` (settings from the environment, see README)."""

from webapp import create_app

app = create_app()
