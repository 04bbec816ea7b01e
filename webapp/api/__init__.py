"""JSON API for clients: conversations, turns and their audio (``/api``)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from webapp.api import views  # noqa: E402, F401 - registers the routes on bp
