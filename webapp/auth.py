"""Counsellor sign-in: accounts, password checks, login throttling, sessions, CSRF and the login page.

Passwords are hashed with ``werkzeug.security`` (scrypt). Sessions are Flask-Login's, in Flask's
signed cookie, with session protection "strong" (a new address or browser signs out), the
``Secure`` flag whenever the request came over HTTPS, and an idle timeout: Flask refuses a session
cookie signed longer than ``MAUM_SESSION_MINUTES`` ago, and ``guard`` re-signs it on every signed-in
request. The cookie is a browser-session cookie (gone when the browser closes); a permanent one
would weaken Flask-Login's "strong" protection to "basic". Each sign-in is also a row on the server
(``webapp.sessions``) named by a random token in the cookie: logout, a disabled account, a new
password or an admin end that row, and with it every copy of the cookie. Failed sign-ins are
counted from the audit trail, so the lockout holds across gunicorn workers.

CSRF tokens (Flask-WTF) are checked on every form of the counsellor, admin and login pages by
``guard``; the JSON chat API under ``/api`` is token-authenticated and exempt.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user, session_protected
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from webapp import audit, sessions
from webapp.config import AppSettings
from webapp.db import ROLES, User, db, new_id, utcnow
from webapp.extensions import get_settings

#: Shortest password accepted, in characters.
MIN_PASSWORD_LENGTH = 10

#: An IP address may fail this many times as many sign-ins as one account (a clinic shares one address).
IP_FAILURE_FACTOR = 4

#: Key of the server session's token in Flask's signed session cookie.
SESSION_TOKEN_KEY = "maum_sid"

login_manager = LoginManager()
csrf = CSRFProtect()

bp = Blueprint("auth", __name__, url_prefix="/counsellor")

F = TypeVar("F", bound=Callable[..., Any])


class AccountError(ValueError):
    """An account cannot be made or changed as asked; the message is Korean, for the operator."""


# --- accounts --------------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    """Return ``email`` as accounts are keyed: stripped and lowercased."""
    return email.strip().lower()


def check_new_password(password: str) -> None:
    """Raise ``AccountError`` when ``password`` is too weak to set."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"비밀번호는 {MIN_PASSWORD_LENGTH}자 이상이어야 해요.")
    if password.strip() != password:
        raise AccountError("비밀번호 앞뒤에는 빈칸을 둘 수 없어요.")


def hash_password(password: str, method: str | None = None) -> str:
    """Hash ``password`` with werkzeug's default (scrypt) or ``method`` (e.g. a cheap one in tests)."""
    return generate_password_hash(password, method=method) if method else generate_password_hash(password)


def find_user(email: str) -> User | None:
    """Return the account with this email (any case), or None."""
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def create_user(email: str, password: str, role: str = "counsellor", *, hash_method: str | None = None) -> User:
    """Create an account and commit it.

    Raises:
        AccountError: the email is malformed or taken, the role unknown, the password too short.
    """
    email = normalize_email(email)
    if "@" not in email or any(c.isspace() for c in email) or len(email) > 254:
        raise AccountError(f"이메일 주소가 올바르지 않아요: {email}")
    if role not in ROLES:
        raise AccountError(f"역할은 {', '.join(ROLES)} 중 하나여야 해요.")
    check_new_password(password)
    if find_user(email) is not None:
        raise AccountError(f"이미 있는 계정이에요: {email}")
    user = User(id=new_id(), email=email, password_hash=hash_password(password, hash_method), role=role)
    db.session.add(user)
    audit.record("user_create", detail={"account": email, "role": role})
    db.session.commit()
    return user


def set_password(user: User, password: str, *, hash_method: str | None = None) -> None:
    """Give ``user`` a new password, sign it out everywhere, and commit."""
    check_new_password(password)
    user.password_hash = hash_password(password, hash_method)
    user.session_token = new_id()
    ended = sessions.end_all(user, "new_password")
    audit.record("user_password", detail={"account": user.email, "sessions": ended})
    db.session.commit()


def set_active(user: User, active: bool) -> None:
    """Enable or disable ``user`` (a disabled account is signed out at once) and commit."""
    user.active = active
    user.session_token = new_id()
    detail: dict[str, Any] = {"account": user.email}
    if not active:
        detail["sessions"] = sessions.end_all(user, "account_disabled")
    audit.record("user_enable" if active else "user_disable", detail=detail)
    db.session.commit()


# --- signing in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """What came of a sign-in attempt: ``user`` on success, else ``locked`` or a plain failure."""

    user: User | None
    locked: bool = False


@cache
def _dummy_hash() -> str:
    # Checked against when the account does not exist, so an unknown email takes as long as a wrong password.
    return generate_password_hash(secrets.token_hex(16))


def _settings() -> AppSettings:
    return get_settings()


def is_locked(email: str, ip: str, user: User | None) -> bool:
    """Whether sign-ins for ``email`` or from ``ip`` are locked out by recent failures."""
    settings = _settings()
    limit = settings.login_max_failures
    if limit <= 0:
        return False
    since = audit.window_start(settings.login_lockout_minutes)
    account_since = since
    if user is not None:
        last_login = audit.last_time("login", user_id=user.id)
        if last_login is not None and last_login > since:
            account_since = last_login  # a success clears the account's earlier failures
    if audit.count_recent("login_failed", account_since, email=email) >= limit:
        return True
    return bool(ip) and audit.count_recent("login_failed", since, ip=ip) >= limit * IP_FAILURE_FACTOR


def authenticate(email: str, password: str) -> SignIn:
    """Check a sign-in and record it in the audit trail (committed); does not start a session."""
    email = normalize_email(email)
    user = find_user(email)
    if is_locked(email, request.remote_addr or "", user):
        audit.record("login_locked", user=user, email=email, commit=True)
        return SignIn(None, locked=True)
    password_ok = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None or not password_ok or not user.active:
        reason = "unknown_account" if user is None else "password" if not password_ok else "disabled"
        audit.record("login_failed", user=user, email=email, detail={"failure": reason}, commit=True)
        return SignIn(None)
    return SignIn(user)


class LoginForm(FlaskForm):
    """The counsellor sign-in form: e-mail and password, with Korean messages when empty."""

    email = EmailField("이메일", validators=[DataRequired("이메일을 적어 주세요."), Length(max=254)])
    password = PasswordField("비밀번호", validators=[DataRequired("비밀번호를 적어 주세요."), Length(max=1024)])


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (never another host), else None.

    Control characters are refused outright: CR/LF cannot go into a ``Location`` header, and
    browsers drop tabs and newlines from URLs, so a tab in ``next`` could turn it into ``//evil.example``.
    """
    if not target or any(unicodedata.category(c) == "Cc" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign a counsellor in (GET shows the form); 401 for wrong details, 429 while the account is locked out."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("counsellor.index"))
    form = LoginForm()
    status = 200
    error = ""
    if form.validate_on_submit():
        result = authenticate(form.email.data or "", form.password.data or "")
        if result.user is not None:
            user = result.user
            session.clear()  # a fresh session (and CSRF token) for the signed-in user
            login_user(user)
            session[SESSION_TOKEN_KEY] = sessions.start(
                user, ip=request.remote_addr or "", user_agent=request.user_agent.string or ""
            )
            user.last_login_at = utcnow()
            audit.record("login", user=user)
            db.session.commit()
            return redirect(next_url or url_for("counsellor.index"))
        if result.locked:
            status = 429
            minutes = _settings().login_lockout_minutes
            error = f"로그인 시도가 너무 많았어요. 안전을 위해 {minutes}분쯤 뒤에 다시 시도해 주세요."
        else:
            status = 401
            error = "이메일이나 비밀번호가 맞지 않아요. 다시 확인해 주세요."
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, error=error, next_url=next_url), status


@bp.post("/logout")
def logout() -> Response:
    """Sign out: end this browser's session (recorded in the audit log) and go back to the sign-in page."""
    row = sessions.find(session.get(SESSION_TOKEN_KEY))
    if current_user.is_authenticated:
        detail = {}
        if row is not None and sessions.end(row, "logout", record=False):
            detail = {"session": row.id[:8]}
        audit.record("logout", detail=detail, commit=True)
    logout_user()
    session.clear()
    flash("로그아웃했어요. 오늘도 수고 많으셨어요.")
    return redirect(url_for("auth.login"))


# --- guarding blueprints ---------------------------------------------------------------------


def returns_data(view: F) -> F:
    """Mark a view whose anonymous callers get 401 JSON (audio, data) instead of the login page."""
    view.returns_data = True  # type: ignore[attr-defined]
    return view


def _unauthorized() -> Response:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "returns_data", False):
        response = jsonify(error={"code": "unauthorized", "message": "로그인이 필요해요. 다시 로그인해 주세요."})
        response.status_code = 401
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def guard(blueprint: Blueprint, *, login: bool = True, admin: bool = False) -> None:
    """Protect every view of ``blueprint``: sign-in (and the admin role) first, then the CSRF token.

    Responses are never cached: they hold personal data.
    """

    @blueprint.before_request
    def _guard() -> Response | None:
        if login and not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.is_authenticated:
            session.modified = True  # re-sign the cookie: the idle timeout starts again
        if admin and not current_user.is_admin:
            abort(403)
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        return None

    @blueprint.after_request
    def _no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response


# --- wiring ----------------------------------------------------------------------------------


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked ``Secure`` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Whether the session cookie is ``Secure``: by configuration, or because this request is HTTPS."""
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    user_id, _, token = session_id.partition(":")
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.active or not hmac.compare_digest(user.session_token, token):
        return None
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    if sessions.check(session.get(SESSION_TOKEN_KEY), user.id, lifetime) is None:
        return None  # ended (logout, admin, new password, idle) or never started on this server
    return user


def _end_moved_session(app: Flask, **extra: Any) -> None:
    """Flask-Login emptied a session used from another address or browser: end it on the server too."""
    row = sessions.find(session.get(SESSION_TOKEN_KEY))
    if row is not None and sessions.end(row, "moved"):
        db.session.commit()


def init_app(app: Flask, settings: AppSettings) -> None:
    """Set up sessions, Flask-Login and CSRF on ``app`` and register the login page."""
    app.config.update(
        # The longest a session cookie's signature stays valid (Flask checks it on every request).
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        # Forms are checked by ``guard`` on the blueprints that have them, not app-wide: the chat
        # API is token-authenticated and other blueprints decide for themselves.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the session does, so a note typed slowly is not lost.
        WTF_CSRF_TIME_LIMIT=None,
        # The pages send no Referer (privacy), which Flask-WTF's HTTPS referrer check would reject;
        # the token plus the SameSite=Lax session cookie stop cross-site posts.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    session_protected.connect(_end_moved_session, app)
    csrf.init_app(app)
    app.register_blueprint(bp)


login_manager.session_protection = "strong"
login_manager.unauthorized_handler(_unauthorized)
guard(bp, login=False)
