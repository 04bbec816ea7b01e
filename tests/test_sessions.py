"""Sign-in sessions live on the server: ending one (logout, admin, command line, new password,
disabled account, idle time) ends every copy of its cookie, on every app instance. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from tests.databases import database_url  # noqa: F401  (every test here runs on SQLite and PostgreSQL)
from tests.test_counsellor import FAST_HASH, audit_rows, csrf_from, login, make_user, page, signed_in
from webapp import create_app
from webapp.db import UserSession, db, utcnow


def copy_of(app: Flask, client):
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    stolen = app.test_client()
    stolen.set_cookie("session", client.get_cookie("session").value)
    return stolen


def session_rows(app: Flask) -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(sa.select(UserSession).order_by(UserSession.created_at)).all()
        db.session.expunge_all()
        return list(rows)


def test_a_cookie_copied_before_logout_no_longer_opens_the_pages(app):
    client = signed_in(app, "kim@example.kr")
    stolen = copy_of(app, client)
    assert stolen.get("/counsellor/").status_code == 200, "the copy works while the session lives"
    response = client.post("/counsellor/logout", data={"csrf_token": csrf_from(client, "/counsellor/")})
    assert response.status_code == 302
    assert stolen.get("/counsellor/").status_code == 302, "logout ended the session on the server"
    [row] = session_rows(app)
    assert row.ended_at is not None and row.end_reason == "logout"
    [logout] = audit_rows(app, "logout")
    assert logout.detail["session"] == row.id[:8]


def test_the_server_keeps_only_a_hash_of_the_token_with_address_and_browser(app):
    make_user(app, "kim@example.kr")
    client = app.test_client()
    token = csrf_from(client, "/counsellor/login")
    client.post(
        "/counsellor/login",
        data={"email": "kim@example.kr", "password": "maum-review-2026", "csrf_token": token},
        headers={"User-Agent": "Firefox/140"},
        environ_base={"REMOTE_ADDR": "198.51.100.4"},
    )
    [row] = session_rows(app)
    assert (row.ip, row.user_agent, row.ended_at) == ("198.51.100.4", "Firefox/140", None)
    with client.session_transaction() as cookie_session:
        cookie_token = cookie_session["maum_sid"]
    assert len(cookie_token) >= 40
    assert cookie_token not in row.token_hash and len(row.token_hash) == 64


def test_an_admin_lists_and_ends_a_counsellors_session_with_csrf(app):
    victim = signed_in(app, "kim@example.kr")
    stolen = copy_of(app, victim)
    admin = signed_in(app, "boss@example.kr", "admin")
    with app.app_context():
        from webapp.auth import find_user

        kim_id = find_user("kim@example.kr").id
    listing = page(admin, f"/admin/users/{kim_id}/sessions")
    kim_row = next(r for r in session_rows(app) if r.user_id == kim_id)
    assert kim_row.id[:8] in listing and "사용 중" in listing
    assert f"/admin/users/{kim_id}/sessions" in page(admin, "/admin/users"), "reachable from the accounts page"

    end_url = f"/admin/users/{kim_id}/sessions/{kim_row.id}/end"
    assert admin.post(end_url).status_code == 400, "no CSRF token, nothing ended"
    assert victim.get("/counsellor/").status_code == 200
    assert victim.post(end_url, data={"csrf_token": csrf_from(victim, "/counsellor/")}).status_code == 403

    response = admin.post(end_url, data={"csrf_token": csrf_from(admin, "/admin/users")})
    assert response.status_code == 302
    assert victim.get("/counsellor/").status_code == 302
    assert stolen.get("/counsellor/").status_code == 302
    assert admin.get("/counsellor/").status_code == 200, "the admin's own session is untouched"
    assert "관리자가 끝냄" in page(admin, f"/admin/users/{kim_id}/sessions")
    [ended] = audit_rows(app, "session_end")
    assert ended.user_email == "boss@example.kr", "who ended it"
    assert ended.detail == {"account": "kim@example.kr", "session": kim_row.id[:8], "why": "admin"}


def test_the_command_line_lists_and_ends_every_session_of_an_account(app, runner):
    first = signed_in(app, "kim@example.kr")
    second = app.test_client()
    assert login(second, "kim@example.kr").status_code == 302
    listed = runner.invoke(args=["users", "sessions", "kim@example.kr"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("사용 중") == 2
    ended = runner.invoke(args=["users", "end-sessions", "KIM@example.kr"])
    assert ended.exit_code == 0, ended.output
    assert "2개" in ended.output
    assert first.get("/counsellor/").status_code == 302
    assert second.get("/counsellor/").status_code == 302
    assert runner.invoke(args=["users", "sessions", "kim@example.kr"]).output.count("관리자가 끝냄") == 2
    events = audit_rows(app, "session_end")
    assert len(events) == 2 and all(e.user_id is None and e.detail["why"] == "admin" for e in events)
    assert "command line" in events[0].user_agent
    missing = runner.invoke(args=["users", "end-sessions", "nobody@example.kr"])
    assert missing.exit_code != 0 and "그런 계정이 없어요" in missing.output


def test_new_password_and_disabling_end_the_sessions_on_the_server(app):
    kim = signed_in(app, "kim@example.kr")
    park = signed_in(app, "park@example.kr")
    with app.app_context():
        from webapp.auth import find_user, set_active, set_password

        set_password(find_user("kim@example.kr"), "a-brand-new-pass", hash_method=FAST_HASH)
        set_active(find_user("park@example.kr"), False)
        set_active(find_user("park@example.kr"), True)
    assert kim.get("/counsellor/").status_code == 302
    assert park.get("/counsellor/").status_code == 302, "enabling the account again does not revive a session"
    reasons = sorted(r.end_reason for r in session_rows(app))
    assert reasons == ["account_disabled", "new_password"]
    assert audit_rows(app, "user_password")[0].detail["sessions"] == 1


def test_an_idle_session_ends_on_the_server_even_with_a_fresh_cookie(app, settings):
    client = signed_in(app, "kim@example.kr")
    assert client.get("/counsellor/").status_code == 200
    with app.app_context():
        db.session.execute(
            sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=settings.session_minutes + 2))
        )
        db.session.commit()
    assert client.get("/counsellor/").status_code == 302
    [row] = session_rows(app)
    assert row.end_reason == "idle"
    assert [e.detail["why"] for e in audit_rows(app, "session_end")] == ["idle"]


def test_last_seen_is_written_at_most_once_a_minute(app):
    client = signed_in(app, "kim@example.kr")
    [before] = session_rows(app)
    for _ in range(3):
        assert client.get("/counsellor/").status_code == 200
    [after] = session_rows(app)
    assert after.last_seen_at == before.last_seen_at, "no write on every request"
    with app.app_context():
        db.session.execute(sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    assert client.get("/counsellor/").status_code == 200, "five idle minutes are well within the hour"
    [touched] = session_rows(app)
    assert utcnow() - touched.last_seen_at < timedelta(seconds=30)


def test_a_session_moved_to_another_browser_is_ended_on_the_server(app):
    client = signed_in(app, "kim@example.kr")
    assert client.get("/counsellor/", headers={"User-Agent": "StolenCookie/1.0"}).status_code == 302
    [row] = session_rows(app)
    assert row.end_reason == "moved"


def test_logout_on_one_app_instance_ends_the_session_on_another(app, settings):
    other_node = create_app(settings)  # a second process or machine on the same database
    other_node.config.update(TESTING=True)
    client = signed_in(app, "kim@example.kr")
    on_other = other_node.test_client()
    on_other.set_cookie("session", client.get_cookie("session").value)
    assert on_other.get("/counsellor/").status_code == 200
    client.post("/counsellor/logout", data={"csrf_token": csrf_from(client, "/counsellor/")})
    assert on_other.get("/counsellor/").status_code == 302
    with other_node.app_context():
        db.engine.dispose()


def test_purge_forgets_sessions_that_ended_longer_ago_than_the_retention(app, runner, settings):
    old = signed_in(app, "kim@example.kr")
    old.post("/counsellor/logout", data={"csrf_token": csrf_from(old, "/counsellor/")})
    current = app.test_client()
    assert login(current, "kim@example.kr").status_code == 302
    long_ago = utcnow() - timedelta(days=settings.retention_days + 1)
    with app.app_context():
        db.session.execute(sa.update(UserSession).where(UserSession.ended_at.is_not(None)).values(ended_at=long_ago))
        db.session.commit()
    preview = runner.invoke(args=["purge", "--dry-run"])
    assert "로그인 세션 기록 1개도 지울 수 있어요" in preview.output and len(session_rows(app)) == 2
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "로그인 세션 기록(IP 주소, 브라우저) 1개도 지웠어요" in result.output
    [kept] = session_rows(app)
    assert kept.ended_at is None
    assert current.get("/counsellor/").status_code == 200, "a live session is untouched"
    assert [e.action for e in audit_rows(app, "logout")] == ["logout"], "the ending stays in the audit trail"
