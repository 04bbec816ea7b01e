"""Admin pages (``/admin``): the audit trail, the accounts, and deleting a conversation on request.

Only admins get in (``webapp.auth.guard``); a counsellor gets 403. Viewing these pages is audited too.
"""

from flask import Blueprint

from webapp.auth import guard

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard(bp, admin=True)

from webapp.admin import views  # noqa: E402, F401 - registers the routes on bp
