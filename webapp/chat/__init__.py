"""The client's chat page (``/``)."""

from flask import Blueprint

bp = Blueprint("chat", __name__)

from webapp.chat import views  # noqa: E402, F401 - registers the routes on bp
