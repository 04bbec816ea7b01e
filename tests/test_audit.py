"""The audit trail, login throttling, retention (``flask purge``), the ``flask users`` commands and the
admin's audit page. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from tests.databases import database_url  # noqa: F401  (every test here runs on SQLite and PostgreSQL)
from tests.test_counsellor import (
    FAST_HASH,
    PASSWORD,
    audio_files,
    audit_rows,
    converse,
    csrf_from,
    export,
    login,
    make_user,
    page,
    signed_in,
    turns_of,
)
from webapp import create_app
from webapp.counsellor.export import csv_safe, to_csv
from webapp.db import AuditEvent, Conversation, Note, Turn, User, db, utcnow

SEOUL = ZoneInfo("Asia/Seoul")
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) MaumTest/1.0"


def age_audit_rows(app, minutes: float) -> None:
    """Move every audit row ``minutes`` into the past (a Core update: the ORM refuses to change them)."""
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent.id, AuditEvent.at)).all()
        for row_id, at in rows:
            db.session.execute(
                sa.update(AuditEvent.__table__)
                .where(AuditEvent.__table__.c.id == row_id)
                .values(at=at - timedelta(minutes=minutes))
            )
        db.session.commit()


# --- every audited action --------------------------------------------------------------------


def test_each_action_leaves_one_row_with_who_when_and_where(app):
    conversation_id = converse(app, "안녕하세요", "죽고 싶어요", audio=True)
    turn = turns_of(app, conversation_id)[-1]
    make_user(app, "lee@example.kr", role="admin")
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT=BROWSER_UA)
    start = utcnow()

    assert login(client, "lee@example.kr", "wrong-password-1").status_code == 401
    assert login(client, "lee@example.kr").status_code == 302
    detail = f"/counsellor/conversations/{conversation_id}"
    page(client, "/counsellor/?risk=high")
    token = csrf_from(client, detail)
    client.get(f"{detail}/turns/{turn.id}/audio/user").close()
    client.post(f"{detail}/notes", data={"csrf_token": token, "body": "보호자 연락"})
    client.post(f"{detail}/review", data={"csrf_token": token})
    assert export(client, reason="사례 회의 자료", conversation=conversation_id, format="json").status_code == 200
    page(client, "/admin/audit?action=export")
    page(client, "/admin/users")
    delete_url = f"/admin/conversations/{conversation_id}/delete"
    client.post(delete_url, data={"csrf_token": token, "reason": "본인의 삭제 요청"})
    client.post("/counsellor/logout", data={"csrf_token": token})

    events = [e for e in audit_rows(app) if e.action != "user_create"]
    assert [e.action for e in events] == [
        "login_failed",
        "login",
        "view_list",
        "view_conversation",  # the page the token came from
        "play_audio",
        "note",
        "review",
        "view_list",  # export() takes its token from the list
        "export",
        "view_audit",
        "view_users",
        "delete_conversation",
        "logout",
    ]
    for event in events:
        assert event.user_email == "lee@example.kr"
        assert event.ip == "203.0.113.7" and event.user_agent == BROWSER_UA
        assert start - timedelta(seconds=1) <= event.at <= utcnow()
    by_action: dict[str, AuditEvent] = {}
    for event in events:
        by_action.setdefault(event.action, event)  # the first of each
    assert by_action["login_failed"].detail == {"failure": "password"}
    assert by_action["view_list"].detail["filters"] == {"risk": "high"}
    assert by_action["play_audio"].detail == {"turn": 3, "which": "user"}
    assert by_action["export"].detail["reason"] == "사례 회의 자료"
    assert by_action["view_audit"].detail["filters"] == {"action": "export"}
    assert by_action["delete_conversation"].detail["reason"] == "본인의 삭제 요청"
    for action in ("view_conversation", "play_audio", "note", "review", "export", "delete_conversation"):
        assert by_action[action].conversation_id == conversation_id, action
    with app.app_context():
        assert all(e.user_id == db.session.scalar(sa.select(User.id)) for e in events)


def test_the_address_behind_a_trusted_proxy_is_recorded(settings, tmp_path):
    app = create_app(dataclasses.replace(settings, trusted_proxies=1))
    with app.app_context():
        import flask_migrate

        flask_migrate.upgrade()
    try:
        make_user(app, "kim@example.kr")
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.23"  # the proxy adds it to every request
        response = login(client, "kim@example.kr")
        assert response.status_code == 302
        assert client.get("/counsellor/").status_code == 200
        events = [e for e in audit_rows(app) if e.action != "user_create"]
        assert [(e.action, e.ip) for e in events] == [("login", "198.51.100.23"), ("view_list", "198.51.100.23")]
    finally:
        with app.app_context():
            db.engine.dispose()


def test_audit_rows_cannot_be_changed_and_actions_are_checked(app):
    from webapp import audit

    with app.app_context():
        with pytest.raises(ValueError, match="unknown audit action"):
            audit.record("peek")
        event = audit.record("view_users", commit=True)
        event.detail = {"changed": True}
        with pytest.raises(ValueError, match="append-only"):
            db.session.commit()
        db.session.rollback()
    assert audit_rows(app)[0].detail == {}


# --- login throttling ------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_a_while(app):
    make_user(app, "kim@example.kr")
    client = app.test_client()
    for _ in range(5):
        assert login(client, "kim@example.kr", "wrong-password").status_code == 401
    locked = login(client, "kim@example.kr")
    assert locked.status_code == 429
    assert "로그인 시도가 너무 많았어요" in locked.get_data(as_text=True)
    assert client.get("/counsellor/").status_code == 302, "not signed in"
    assert [e.action for e in audit_rows(app)][-2:] == ["login_failed", "login_locked"]
    assert login(app.test_client(), "KIM@example.kr").status_code == 429, "any case, any client"

    age_audit_rows(app, 16)  # the 15-minute window has passed
    assert login(client, "kim@example.kr").status_code == 302


def test_a_success_clears_the_accounts_earlier_failures(app):
    make_user(app, "kim@example.kr")
    for _ in range(4):
        login(app.test_client(), "kim@example.kr", "wrong-password")
    assert login(app.test_client(), "kim@example.kr").status_code == 302
    for _ in range(4):
        login(app.test_client(), "kim@example.kr", "wrong-password")
    assert login(app.test_client(), "kim@example.kr").status_code == 302


def test_many_failures_from_one_address_lock_that_address(app, monkeypatch):
    from webapp import auth

    # Unknown accounts are checked against a dummy scrypt hash (same time as a wrong password); a cheap one here.
    monkeypatch.setattr(auth, "_dummy_hash", lambda: generate_password_hash("x", method=FAST_HASH))
    make_user(app, "kim@example.kr")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "192.0.2.66"
    for n in range(20):
        assert login(attacker, f"guess{n}@example.kr", "wrong-password").status_code == 401
    assert login(attacker, "kim@example.kr").status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert login(elsewhere, "kim@example.kr").status_code == 302


def test_the_lockout_holds_across_workers(settings, app):
    """Two app instances on one database stand in for two gunicorn workers."""
    make_user(app, "kim@example.kr")
    for _ in range(5):
        login(app.test_client(), "kim@example.kr", "wrong-password")
    other_worker = create_app(settings)
    try:
        assert login(other_worker.test_client(), "kim@example.kr").status_code == 429
    finally:
        with other_worker.app_context():
            db.engine.dispose()


# --- retention -------------------------------------------------------------------------------


def make_old(app, conversation_id: str, days: int) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()


def test_purge_removes_exactly_the_expired_conversations_and_their_files(app, runner):
    old_voice = converse(app, "오래된 이야기", audio=True)
    old_text = converse(app, "오래된 글")
    fresh_voice = converse(app, "요즘 이야기", audio=True)
    almost = converse(app, "곧 지워질 이야기")
    with app.app_context():
        empty_old = Conversation(token_hash="0" * 64, created_at=datetime(2024, 1, 1, tzinfo=UTC))
        empty_old.updated_at = datetime(2024, 1, 1, tzinfo=UTC)
        db.session.add(empty_old)
        db.session.commit()
        empty_old = empty_old.id
    make_old(app, old_voice, 400)
    make_old(app, old_text, 366)
    make_old(app, almost, 364)
    client = signed_in(app, "kim@example.kr")
    detail = f"/counsellor/conversations/{old_voice}"
    client.post(f"{detail}/notes", data={"csrf_token": csrf_from(client, detail), "body": "오래된 메모"})
    files_before = audio_files(app)
    audit_before = audit_rows(app)
    fresh_files = [p for p in files_before if fresh_voice in str(p) or almost in str(p)]

    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "3개 대화를 지울 수 있어요" in dry.output
    assert set(re.findall(r"^[0-9a-f]{32}$", dry.output, re.M)) == {old_voice, old_text, empty_old}
    assert audio_files(app) == files_before and len(audit_rows(app)) == len(audit_before)

    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "3개 대화와 음성 파일 4개를 지웠어요" in result.output  # 3 of the old voice one, 1 reply
    with app.app_context():
        left = set(db.session.scalars(sa.select(Conversation.id)))
        assert left == {fresh_voice, almost}
        assert set(db.session.scalars(sa.select(Turn.conversation_id))) == {fresh_voice, almost}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
    assert audio_files(app) == fresh_files
    assert not (Path(app.instance_path) / "audio" / old_voice).exists()
    after = audit_rows(app)
    assert [(e.id, e.action) for e in after[: len(audit_before)]] == [(e.id, e.action) for e in audit_before]
    purged = after[len(audit_before) :]
    assert {e.conversation_id for e in purged} == {old_voice, old_text, empty_old}
    assert all(e.action == "purge" and e.user_id is None for e in purged)
    assert all(e.user_agent.startswith("command line") and e.detail["retention_days"] == 365 for e in purged)

    again = runner.invoke(args=["purge"])
    assert "0개 대화" in again.output
    assert [e.id for e in audit_rows(app)] == [e.id for e in after], "a purge with nothing to do records nothing"


def test_purge_keeps_everything_when_retention_is_zero(app, runner):
    conversation_id = converse(app, "오래된 이야기")
    make_old(app, conversation_id, 5000)
    app.extensions["maum.settings"] = dataclasses.replace(app.extensions["maum.settings"], retention_days=0)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and "아무것도 지우지 않았어요" in result.output
    assert len(turns_of(app, conversation_id)) == 1


# --- accounts from the command line ----------------------------------------------------------


def test_users_commands(app, runner):
    made = runner.invoke(args=["users", "create", "Boss@Example.kr", "--role", "admin", "--password-stdin"],
                         input="a-long-admin-pass\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "계정을 만들었어요: boss@example.kr (admin)" in made.output
    prompted = runner.invoke(args=["users", "create", "kim@example.kr"], input="counsellor-pass\ncounsellor-pass\n")
    assert prompted.exit_code == 0, prompted.output
    with app.app_context():
        users = {u.email: u for u in db.session.scalars(sa.select(User))}
        assert users["boss@example.kr"].role == "admin" and users["kim@example.kr"].role == "counsellor"
        assert users["kim@example.kr"].password_hash.startswith("scrypt:"), "werkzeug's scrypt by default"

    short = runner.invoke(args=["users", "create", "x@example.kr", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "10자 이상" in short.output
    twice = runner.invoke(args=["users", "create", "KIM@example.kr", "--password-stdin"], input="another-pass-1\n")
    assert twice.exit_code != 0 and "이미 있는 계정" in twice.output
    assert "kim@example.kr\tcounsellor\t사용 중" in runner.invoke(args=["users", "list"]).output

    assert login(app.test_client(), "kim@example.kr", "counsellor-pass").status_code == 302
    assert runner.invoke(args=["users", "disable", "kim@example.kr"]).exit_code == 0
    assert login(app.test_client(), "kim@example.kr", "counsellor-pass").status_code == 401
    assert "kim@example.kr\tcounsellor\t중지됨" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "enable", "kim@example.kr"]).exit_code == 0
    changed = runner.invoke(args=["users", "set-password", "kim@example.kr", "--password-stdin"],
                            input="new-pass-12345\n")  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert login(app.test_client(), "kim@example.kr", "counsellor-pass").status_code == 401
    assert login(app.test_client(), "kim@example.kr", "new-pass-12345").status_code == 302
    missing = runner.invoke(args=["users", "disable", "nobody@example.kr"])
    assert missing.exit_code != 0 and "그런 계정이 없어요" in missing.output

    cli_events = [e for e in audit_rows(app) if e.action.startswith("user_")]
    assert [(e.action, e.detail["account"]) for e in cli_events] == [
        ("user_create", "boss@example.kr"),
        ("user_create", "kim@example.kr"),
        ("user_disable", "kim@example.kr"),
        ("user_enable", "kim@example.kr"),
        ("user_password", "kim@example.kr"),
    ]
    assert all(e.user_agent.startswith("command line") for e in cli_events)


# --- the admin's audit page ------------------------------------------------------------------


def test_audit_page_filters_by_user_action_date_and_conversation(app):
    conversation_id = converse(app, "안녕하세요")
    kim = signed_in(app, "kim@example.kr")
    page(kim, f"/counsellor/conversations/{conversation_id}")
    login(app.test_client(), "park@example.kr", "wrong-password")
    age_audit_rows(app, 3 * 24 * 60)  # three days ago
    admin = signed_in(app, "lee@example.kr", role="admin")

    def shown(query: str) -> list[str]:
        html = page(admin, f"/admin/audit?{query}")
        return re.findall(r'<tr class="action-([a-z_]+)">', html)

    everything = shown("")
    assert {"login", "login_failed", "view_conversation", "user_create"} <= set(everything)
    assert "view_audit" in shown(""), "the first look is on the list now"
    assert shown("user=kim%40example") == ["view_conversation", "login"]
    assert shown("action=login_failed") == ["login_failed"]
    failures = page(admin, "/admin/audit?action=login_failed")
    assert "park@example.kr" in failures and "실패 이유: 없는 계정" in failures, "details in Korean"
    assert shown(f"conversation={conversation_id[:8]}") == ["view_conversation"]
    today = datetime.now(SEOUL).date()
    old_day = (datetime.now(SEOUL) - timedelta(days=3)).date()
    assert "login_failed" not in shown(f"date_from={today.isoformat()}")
    assert set(shown(f"date_to={(old_day + timedelta(days=1)).isoformat()}")) >= {"login_failed", "view_conversation"}
    assert shown(f"date_to={(old_day - timedelta(days=1)).isoformat()}") == []
    views = audit_rows(app, "view_audit")
    assert views[-1].user_email == "lee@example.kr"
    assert views[-1].detail["filters"] == {"date_to": (old_day - timedelta(days=1)).isoformat()}


def test_audit_page_escapes_what_it_shows(app):
    admin = signed_in(app, "lee@example.kr", role="admin")
    login(app.test_client(), "<script>alert(1)</script>@example.kr", "wrong-password")
    html = page(admin, "/admin/audit")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;@example.kr" in html


# --- CSV safety ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+82 10 1234", "'+82 10 1234"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("안녕 =1", "안녕 =1"),
        ("", ""),
        (0.7, 0.7),
        (3, 3),
    ],
)
def test_csv_cells_cannot_become_formulas(cell, expected):
    assert csv_safe(cell) == expected


def test_csv_file_is_utf8_with_bom_and_every_text_cell_is_safe(app):
    conversation_id = converse(app, "=cmd()", "-1", "@x", "+1", "보통 문장")
    with app.app_context():
        from webapp.counsellor.export import load

        data = to_csv(load([conversation_id]))
    assert data[:3] == b"\xef\xbb\xbf"
    text = data.decode("utf-8-sig")
    assert "'=cmd()" in text and "'-1" in text and "'@x" in text and "'+1" in text
    assert "\n=" not in text and ",=" not in text and ",-" not in text and ",+" not in text and ",@" not in text


def test_a_counsellors_password_is_never_stored_or_logged(app, capsys):
    make_user(app, "kim@example.kr")
    login(app.test_client(), "kim@example.kr", "wrong-but-secret-pass")
    login(app.test_client(), "kim@example.kr")
    with app.app_context():
        dump = repr(db.session.execute(sa.select(AuditEvent.detail, AuditEvent.user_email)).all())
        dump += db.session.scalar(sa.select(User.password_hash))
    captured = capsys.readouterr()
    for secret in (PASSWORD, "wrong-but-secret-pass"):
        assert secret not in dump and secret not in captured.out and secret not in captured.err
