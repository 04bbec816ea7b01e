"""Pronunciation practice: the page (``/practice``) and its JSON API (``/api/practice/...``)."""

from flask import Blueprint

bp = Blueprint("practice", __name__)

from webapp.practice import views  # noqa: E402, F401 - registers the routes on bp
