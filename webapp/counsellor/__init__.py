"""Counsellor review pages (``/counsellor``): the conversation list, one conversation, notes, export.

Every view needs a signed-in counsellor or admin (``webapp.auth.guard``) and leaves a row in the
audit trail.
"""

from flask import Blueprint

from webapp.auth import guard

bp = Blueprint("counsellor", __name__, url_prefix="/counsellor")
guard(bp)

from webapp.counsellor import views  # noqa: E402, F401 - registers the routes on bp
