"""Counsellor review pages on the fake pipeline: sign-in, access control, list, detail, audio, notes,
review, export and deletion. Every test runs on SQLite and on PostgreSQL, with CSRF checks on."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import soundfile as sf
import sqlalchemy as sa
from flask import Flask, url_for

from pipeline.types import EMOTION_LABELS
from tests.databases import database_url  # noqa: F401  (every test here runs on SQLite and PostgreSQL)
from tests.samples import tone
from webapp.auth import create_user
from webapp.db import AuditEvent, Conversation, Note, Turn, User, db
from webapp.reply_audio import wait_for_reply_audio

PASSWORD = "maum-review-2026"
#: Cheap hashing for accounts made in tests (the CLI and production use werkzeug's scrypt default).
FAST_HASH = "pbkdf2:sha256:1000"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- helpers (test_audit.py uses them too) ---------------------------------------------------


def make_user(app: Flask, email: str, role: str = "counsellor", password: str = PASSWORD) -> str:
    with app.app_context():
        return create_user(email, password, role, hash_method=FAST_HASH).id


def csrf_from(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    token = csrf_from(client, "/counsellor/login")
    url = "/counsellor/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def signed_in(app: Flask, email: str, role: str = "counsellor"):
    make_user(app, email, role)
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def wav(seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def converse(app: Flask, *texts: str, audio: bool = False) -> str:
    """Start a conversation through the JSON API and say ``texts`` (then one recording); return its id."""
    client = app.test_client()
    response = client.post("/api/conversations")
    conversation_id, token = response.json["id"], response.json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for text in texts:
        r = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=headers)
        assert r.status_code == 201, r.json
    if audio:
        r = client.post(
            f"/api/conversations/{conversation_id}/turns",
            data={"audio": (io.BytesIO(wav()), "recording.wav")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert r.status_code == 201, r.json
    wait_for_reply_audio()  # the complete reply files are assembled after each answer
    return conversation_id


def audit_rows(app: Flask, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return list(rows)


def turns_of(app: Flask, conversation_id: str) -> list[Turn]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.index)
        ).all()
        db.session.expunge_all()
        return list(rows)


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def audio_files(app: Flask) -> list[Path]:
    root = Path(app.instance_path) / "audio"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def example_urls(app: Flask, blueprints: set[str], conversation_id: str, turn_id: str) -> list[tuple[str, str, str]]:
    """``(endpoint, method, url)`` for every route of ``blueprints``, filled with real ids."""
    values = {"conversation_id": conversation_id, "turn_id": turn_id, "which": "user"}
    values |= {"user_id": "0" * 32, "session_id": "0" * 32}  # admin pages of an account and its sessions
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.partition(".")[0] not in blueprints:
                continue
            method = "GET" if "GET" in rule.methods else "POST"
            urls.append((rule.endpoint, method, url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})))
    return urls


# --- access control --------------------------------------------------------------------------


def test_anonymous_gets_the_login_page_for_pages_and_401_for_audio(app, client):
    conversation_id = converse(app, "안녕하세요", audio=True)
    turn_id = turns_of(app, conversation_id)[-1].id
    urls = example_urls(app, {"counsellor", "admin"}, conversation_id, turn_id)
    assert len(urls) >= 9
    for endpoint, method, url in urls:
        response = client.open(url, method=method)
        if endpoint == "counsellor.turn_audio":
            assert response.status_code == 401, url
            assert response.json["error"]["code"] == "unauthorized"
            assert re.search("[가-힣]", response.json["error"]["message"])
        else:
            assert response.status_code == 302, (url, response.status_code)
            assert response.headers["Location"].startswith("/counsellor/login?next="), url
    assert audit_rows(app) == [], "nothing was seen, so nothing is recorded"


def test_login_then_back_where_the_counsellor_was_going(app):
    conversation_id = converse(app, "안녕하세요")
    make_user(app, "kim@example.kr")
    client = app.test_client()
    target = f"/counsellor/conversations/{conversation_id}"
    first = client.get(target)
    assert first.headers["Location"] == f"/counsellor/login?next={target}"
    response = login(client, "KIM@example.kr ", next_url=target)  # any case, stray spaces
    assert response.status_code == 302 and response.headers["Location"] == target
    assert client.get(target).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(app, target):
    make_user(app, "kim@example.kr")
    response = login(app.test_client(), "kim@example.kr", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/counsellor/"


def test_wrong_password_and_unknown_account_get_the_same_answer(app):
    make_user(app, "kim@example.kr")
    wrong = login(app.test_client(), "kim@example.kr", "not-the-password")
    unknown = login(app.test_client(), "nobody@example.kr", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "이메일이나 비밀번호가 맞지 않아요" in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("맞지 않아요") == unknown.get_data(as_text=True).count("맞지 않아요")


def test_counsellor_cannot_reach_admin_pages(app):
    conversation_id = converse(app, "안녕하세요")
    turn_id = turns_of(app, conversation_id)[0].id
    client = signed_in(app, "kim@example.kr")
    token = csrf_from(client, f"/counsellor/conversations/{conversation_id}")
    urls = example_urls(app, {"admin"}, conversation_id, turn_id)
    assert {e for e, _, _ in urls} >= {"admin.audit_log", "admin.users", "admin.delete"}
    for _, method, url in urls:
        response = client.open(url, method=method, data={"csrf_token": token, "reason": "지워 주세요 제발"})
        assert response.status_code == 403, url
    assert "대화 지우기" not in page(client, f"/counsellor/conversations/{conversation_id}")
    with app.app_context():
        assert db.session.get(Conversation, conversation_id) is not None


def test_admin_sees_counsellor_and_admin_pages(app):
    conversation_id = converse(app, "안녕하세요")
    client = signed_in(app, "lee@example.kr", role="admin")
    assert "대화 지우기" in page(client, f"/counsellor/conversations/{conversation_id}")
    assert "접근 기록" in page(client, "/admin/audit")
    assert "lee@example.kr" in page(client, "/admin/users")


def test_disabled_account_and_new_password_sign_out_existing_sessions(app):
    client = signed_in(app, "kim@example.kr")
    other = signed_in(app, "park@example.kr")
    assert client.get("/counsellor/").status_code == 200
    with app.app_context():
        from webapp.auth import find_user, set_active, set_password

        set_active(find_user("kim@example.kr"), False)
        set_password(find_user("park@example.kr"), "a-brand-new-pass", hash_method=FAST_HASH)
    assert client.get("/counsellor/").status_code == 302
    assert login(app.test_client(), "kim@example.kr").status_code == 401, "a disabled account cannot sign in"
    assert other.get("/counsellor/").status_code == 302
    assert login(app.test_client(), "park@example.kr", "a-brand-new-pass").status_code == 302


def test_logout_ends_the_session(app):
    client = signed_in(app, "kim@example.kr")
    token = csrf_from(client, "/counsellor/")
    response = client.post("/counsellor/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/counsellor/").status_code == 302
    assert "로그아웃했어요" in page(client, "/counsellor/login")


def test_session_cookie_is_httponly_lax_and_secure_over_https(app):
    make_user(app, "kim@example.kr")
    plain = login(app.test_client(), "kim@example.kr")
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" not in cookie, "gone when the browser closes"
    secure_client = app.test_client()
    token_page = secure_client.get("/counsellor/login", base_url="https://maum.example")
    token = CSRF_RE.search(token_page.get_data(as_text=True)).group(1)
    secure = secure_client.post(
        "/counsellor/login",
        base_url="https://maum.example",
        data={"email": "kim@example.kr", "password": PASSWORD, "csrf_token": token},
    )
    assert secure.status_code == 302, "works over HTTPS although the pages send no Referer"
    assert "Secure" in secure.headers["Set-Cookie"]


def test_a_session_ends_after_the_idle_time_and_each_request_extends_it(app):
    client = signed_in(app, "kim@example.kr")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=2)
    for _ in range(3):
        time.sleep(1.1)
        response = client.get("/counsellor/")
        assert response.status_code == 200, "each request re-signs the cookie"
        assert "session=" in response.headers.get("Set-Cookie", "")
    time.sleep(3.1)
    assert client.get("/counsellor/").status_code == 302, "idle too long: signed out"


def test_a_session_moved_to_another_browser_is_signed_out(app):
    client = signed_in(app, "kim@example.kr")
    assert client.get("/counsellor/").status_code == 200
    assert client.get("/counsellor/", headers={"User-Agent": "StolenCookie/1.0"}).status_code == 302
    assert client.get("/counsellor/").status_code == 302, "the session was emptied"


def test_pages_are_not_cached_and_keep_the_strict_csp(app):
    conversation_id = converse(app, "안녕하세요")
    client = signed_in(app, "kim@example.kr")
    for url in ("/counsellor/", f"/counsellor/conversations/{conversation_id}", "/counsellor/login"):
        response = client.get(url, follow_redirects=True)
        assert response.headers["Cache-Control"] == "no-store", url
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "<style" not in html, "nothing inline"
        assert "http://" not in html and "https://" not in html


# --- CSRF ------------------------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_rejected(app):
    app.config["WTF_CSRF_ENABLED"] = True  # explicit: TESTING must not switch it off
    conversation_id = converse(app, "안녕하세요")
    make_user(app, "lee@example.kr", role="admin")
    client = app.test_client()
    no_token_login = client.post("/counsellor/login", data={"email": "lee@example.kr", "password": PASSWORD})
    assert no_token_login.status_code == 400
    assert audit_rows(app, "login") == []
    assert login(client, "lee@example.kr").status_code == 302
    base = f"/counsellor/conversations/{conversation_id}"
    posts = {
        f"{base}/notes": {"body": "몰래 남기는 메모"},
        f"{base}/review": {},
        "/counsellor/export": {"conversation": conversation_id, "format": "csv", "reason": "몰래 내보내기"},
        f"/admin/conversations/{conversation_id}/delete": {"reason": "몰래 지우기입니다"},
        "/counsellor/logout": {},
    }
    for url, data in posts.items():
        for bad in ({}, {"csrf_token": "forged-token"}):
            response = client.post(url, data={**data, **bad})
            assert response.status_code == 400, url
            assert "요청을 이해하지 못했어요" in response.get_data(as_text=True)
    with app.app_context():
        conversation = db.session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.reviewed_at is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
    assert [e.action for e in audit_rows(app)] == ["user_create", "login"], "nothing else happened"
    assert client.get("/counsellor/").status_code == 200, "still signed in: the logout post was refused too"


def test_the_chat_api_stays_free_of_csrf(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    conversation_id = converse(app, "안녕하세요", "요즘 우울해요")
    assert len(turns_of(app, conversation_id)) == 2


# --- list ------------------------------------------------------------------------------------


def test_list_pins_unreviewed_high_risk_and_counts_alerts(app):
    calm = converse(app, "오늘 기뻐요")
    risky = converse(app, "안녕하세요", "죽고 싶어요")
    later_calm = converse(app, "화가 나요")
    client = signed_in(app, "kim@example.kr")
    html = page(client, "/counsellor/")
    order = re.findall(r'data-conversation="([0-9a-f]{32})"', html)
    assert order == [risky, later_calm, calm], "the risky one first, then newest first"
    assert re.search(r'class="alert-count">1<', html)
    assert "위험 높음" in html

    token = csrf_from(client, f"/counsellor/conversations/{risky}")
    client.post(f"/counsellor/conversations/{risky}/review", data={"csrf_token": token})
    html = page(client, "/counsellor/")
    assert re.findall(r'data-conversation="([0-9a-f]{32})"', html) == [later_calm, risky, calm]
    assert "alert-count" not in html


def test_list_filters(app):
    sad = converse(app, "요즘 너무 우울해요", "그래도 괜찮아요")
    happy = converse(app, "오늘 정말 행복해요")
    risky = converse(app, "죽고 싶어요")
    percent = converse(app, "할인이 100% 라니 깜짝 놀랐어요 snake_case")
    client = signed_in(app, "kim@example.kr")

    def listed(query: str) -> set[str]:
        return set(re.findall(r'data-conversation="([0-9a-f]{32})"', page(client, f"/counsellor/?{query}")))

    assert listed("") == {sad, happy, risky, percent}
    assert listed("risk=high") == {risky}
    assert listed("risk=none") == {sad, happy, percent}
    assert listed("emotion=happiness") == {happy}
    assert listed("emotion=surprise") == {percent}
    assert listed("q=우울") == {sad}
    assert listed("q=" + "잘 들었어요".replace(" ", "+")) == {sad, happy, percent}, "replies are searched too"
    assert listed("q=100%25") == {percent}
    assert listed("q=%25") == {percent}, "% matches itself, not everything"
    assert listed("q=_") == {percent}, "_ matches itself, not any character"
    assert listed(f"q={risky[:10]}") == {risky}, "a conversation id's start finds it"
    assert listed("reviewed=no") == {sad, happy, risky, percent}
    token = csrf_from(client, f"/counsellor/conversations/{sad}")
    client.post(f"/counsellor/conversations/{sad}/review", data={"csrf_token": token})
    assert listed("reviewed=yes") == {sad}
    assert listed("reviewed=no&risk=none") == {happy, percent}
    with app.app_context():
        old = sa.update(Turn).where(Turn.conversation_id == happy)
        db.session.execute(old.values(created_at=datetime(2026, 1, 10, 3, 0, tzinfo=UTC)))  # noon in Seoul
        db.session.commit()
    assert listed("date_from=2026-01-10&date_to=2026-01-10") == {happy}
    assert listed("date_from=2026-01-11") == {sad, risky, percent}
    assert listed("date_to=2026-01-09") == set()
    html = page(client, "/counsellor/?emotion=nonsense")
    assert "알아볼 수 없는 값" in html, "bad filters are dropped with a word, not a crash"


def test_list_pages(app, monkeypatch):
    from webapp.counsellor import queries

    monkeypatch.setattr(queries, "PER_PAGE", 2)
    ids = [converse(app, f"{n}번째 대화예요") for n in range(5)]
    client = signed_in(app, "kim@example.kr")
    seen = []
    for number in (1, 2, 3):
        html = page(client, f"/counsellor/?page={number}")
        assert f"{number} / 3쪽" in html
        seen += re.findall(r'data-conversation="([0-9a-f]{32})"', html)
    assert seen == ids[::-1]
    assert re.findall(r'data-conversation="', page(client, "/counsellor/?page=9")) == []


# --- detail ----------------------------------------------------------------------------------


def test_detail_shows_every_turn_with_time_emotion_risk_reply_and_audio(app):
    conversation_id = converse(app, "요즘 너무 우울해요", "죽고 싶어요", audio=True)
    turns = turns_of(app, conversation_id)
    client = signed_in(app, "kim@example.kr")
    html = page(client, f"/counsellor/conversations/{conversation_id}")
    assert html.count('class="turn risk-') == 3
    assert "요즘 너무 우울해요" in html and "1번째 이야기 잘 들었어요." in html
    assert "슬픔" in html and "70%" in html, "emotion in Korean with its score"
    assert html.count("<meter") == 3 * len(EMOTION_LABELS)
    assert "위험 높음" in html and "위험 신호" in html
    for reason in turns[1].risk_reasons:
        assert reason in html
    kst = turns[0].created_at.astimezone(ZoneInfo("Asia/Seoul"))
    assert kst.strftime("%Y-%m-%d %H:%M:%S") in html, "times in Korea time"
    audio_urls = re.findall(r'src="(/counsellor/conversations/[^"]+/audio/(?:user|reply))"', html)
    assert len(audio_urls) == 4, "one recording and three replies"
    assert "/api/" not in html, "never the client's token route"
    assert "글로 적은 메시지예요" in html
    chart = json.loads(re.search(r"data-chart='([^']*)'", html).group(1))
    assert chart["risk"] == ["none", "high", "none"]
    assert [s["label"] for s in chart["series"]] == list(EMOTION_LABELS)
    assert chart["series"][EMOTION_LABELS.index("sadness")]["scores"][0] == pytest.approx(0.7)
    assert 'src="/static/vendor/chart.js/chart.umd.min.js"' in html


def test_detail_of_an_unknown_conversation_is_404(app):
    client = signed_in(app, "kim@example.kr")
    assert client.get(f"/counsellor/conversations/{'0' * 32}").status_code == 404


def test_missing_reply_audio_is_shown_as_such(app, settings):
    from pipeline.turn import Pipeline

    class BrokenSynthesizer:
        def synthesize(self, text: str, **kwargs):
            raise RuntimeError("espeak-ng crashed")

    no_fallback = dataclasses.replace(settings.pipeline, synthesizer_fallback="")
    app.extensions["maum.pipeline"] = Pipeline(no_fallback, synthesizer=BrokenSynthesizer())
    conversation_id = converse(app, "오늘 기뻐요")
    client = signed_in(app, "kim@example.kr")
    html = page(client, f"/counsellor/conversations/{conversation_id}")
    assert "답 음성을 만들지 못했어요" in html and "synthesis_failed" in html
    assert "/audio/reply" not in html


def test_generator_fallback_is_kept_shown_and_exported(app, settings):
    from pipeline.turn import Pipeline
    from pipeline.types import Reply

    class RejectingGenerator:
        """Stands in for kogpt2 when every sampled reply failed the safety rails."""

        def respond(self, text, emotion, risk, history=()):
            return Reply("그 마음 들려줘서 고마워요.", fallback_reason="rejected: unfinished, not_korean")

    app.extensions["maum.pipeline"] = Pipeline(settings.pipeline, responder=RejectingGenerator())
    conversation_id = converse(app, "오늘 좀 지쳤어요")
    with app.app_context():
        [turn] = db.session.scalars(sa.select(Turn).where(Turn.conversation_id == conversation_id)).all()
        kept = turn.reply_fallback
    assert kept == "rejected: unfinished, not_korean"
    client = signed_in(app, "kim@example.kr")
    html = page(client, f"/counsellor/conversations/{conversation_id}")
    assert "생성한 답이 안전 검사를 통과하지 못했어요 (unfinished, not_korean)" in html
    document = json.loads(export(client, conversation=conversation_id, format="json").data)
    assert document["conversations"][0]["turns"][0]["reply"]["generator_fallback"] == kept
    table = export(client, conversation=conversation_id, format="csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[1][rows[0].index("생성 모델 대신 쓴 이유")].startswith("생성한 답이 안전 검사를")


def test_script_in_a_transcript_renders_escaped(app):
    text = '<script>alert("마음")</script><img src=x onerror=alert(1)>'
    conversation_id = converse(app, text)
    client = signed_in(app, "kim@example.kr")
    token = csrf_from(client, f"/counsellor/conversations/{conversation_id}")
    client.post(f"/counsellor/conversations/{conversation_id}/notes", data={"csrf_token": token, "body": text})
    html = page(client, f"/counsellor/conversations/{conversation_id}")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(&#34;마음&#34;)&lt;/script&gt;") == 2, "transcript and note, escaped"


def test_audio_is_served_to_a_counsellor_and_each_play_is_recorded(app):
    conversation_id = converse(app, audio=True)
    [turn] = turns_of(app, conversation_id)
    client = signed_in(app, "kim@example.kr")
    url = f"/counsellor/conversations/{conversation_id}/turns/{turn.id}/audio"
    user = client.get(f"{url}/user")
    assert user.status_code == 200 and user.mimetype == "audio/wav"
    assert user.data == app.extensions["maum.audio_store"].read(turn.user_audio_path)
    assert user.headers["Cache-Control"] == "no-store"
    reply = client.get(f"{url}/reply")
    assert reply.status_code == 200 and reply.data[:4] == b"OggS"
    more = client.get(f"{url}/user", headers={"Range": "bytes=100-"})
    assert more.status_code == 206, "players fetch the rest in ranges"
    for response in (user, reply, more):
        response.close()
    plays = audit_rows(app, "play_audio")
    assert [(p.conversation_id, p.detail["which"]) for p in plays] == [
        (conversation_id, "user"),
        (conversation_id, "reply"),
    ]
    assert client.get(f"/counsellor/conversations/{conversation_id}/turns/{'0' * 32}/audio/user").status_code == 404
    other = converse(app, "다른 대화")
    assert client.get(f"/counsellor/conversations/{other}/turns/{turn.id}/audio/user").status_code == 404


# --- review and notes ------------------------------------------------------------------------


def test_review_records_who_and_when_and_new_turns_need_a_new_review(app):
    client_api = app.test_client()
    started = client_api.post("/api/conversations").json
    headers = {"Authorization": f"Bearer {started['token']}"}
    url = f"/api/conversations/{started['id']}/turns"
    client_api.post(url, json={"text": "안녕하세요"}, headers=headers)
    with app.app_context():
        last_activity = db.session.get(Conversation, started["id"]).updated_at

    client = signed_in(app, "kim@example.kr")
    detail = f"/counsellor/conversations/{started['id']}"
    token = csrf_from(client, detail)
    response = client.post(f"{detail}/review", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        conversation = db.session.get(Conversation, started["id"])
        assert conversation.reviewed_by.email == "kim@example.kr"
        assert conversation.reviewed_at >= last_activity
        assert conversation.updated_at == last_activity, "a review is not client activity"
    html = page(client, detail)
    assert "kim@example.kr" in html and "확인했다고 표시했어요" in html and "다시 확인했어요" in html

    client_api.post(url, json={"text": "또 왔어요"}, headers=headers)
    assert "그 뒤에 새 이야기가 있어요" in page(client, detail)
    assert "확인 뒤 새 이야기" in page(client, "/counsellor/")


def test_notes_are_append_only_with_author_and_time(app):
    conversation_id = converse(app, "안녕하세요")
    client = signed_in(app, "kim@example.kr")
    other = signed_in(app, "park@example.kr")
    detail = f"/counsellor/conversations/{conversation_id}"
    client.post(f"{detail}/notes", data={"csrf_token": csrf_from(client, detail), "body": "첫 상담 전화 예정"})
    second = "보호자와 연락함\n다음 주 재확인"
    other.post(f"{detail}/notes", data={"csrf_token": csrf_from(other, detail), "body": second})
    empty = client.post(f"{detail}/notes", data={"csrf_token": csrf_from(client, detail), "body": "   "})
    assert empty.status_code == 302
    html = page(client, detail)
    assert "메모 내용을 적어 주세요" in html
    assert html.index("첫 상담 전화 예정") < html.index("보호자와 연락함")
    assert "kim@example.kr ·" in html and "park@example.kr ·" in html
    with app.app_context():
        notes = db.session.scalars(sa.select(Note).order_by(Note.created_at)).all()
        assert [(n.author.email, n.body) for n in notes] == [
            ("kim@example.kr", "첫 상담 전화 예정"),
            ("park@example.kr", "보호자와 연락함\n다음 주 재확인"),
        ]
        notes[0].body = "고쳐 쓰기"
        with pytest.raises(ValueError, match="append-only"):
            db.session.commit()
        db.session.rollback()
    note_rules = [r for r in app.url_map.iter_rules() if "note" in r.rule]
    assert [sorted(r.methods - {"HEAD", "OPTIONS"}) for r in note_rules] == [["POST"]], "no edit, no delete"


# --- export ----------------------------------------------------------------------------------


def export(client, reason: str = "위기 대응 회의 자료", **fields):
    token = csrf_from(client, "/counsellor/")
    return client.post("/counsellor/export", data={"csrf_token": token, "reason": reason, **fields})


def test_export_one_conversation_as_csv_for_excel(app):
    conversation_id = converse(app, '=HYPERLINK("http://evil")', "요즘 우울해요", "-2+3", "@SUM(A1)", "+82 10")
    converse(app, "다른 사람의 대화")
    client = signed_in(app, "kim@example.kr")
    assert "하나를 내보내요" in page(client, f"/counsellor/export?conversation={conversation_id}")
    response = export(client, conversation=conversation_id, format="csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="maum-{conversation_id[:8]}-')
    assert response.data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so Excel reads Korean"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:7] == ["대화 ID", "대화 시작", "순서", "시각", "입력", "내담자의 말", "감정"]
    assert len(body) == 5 and {r[0] for r in body} == {conversation_id}
    said = [r[5] for r in body]
    assert said == ['\'=HYPERLINK("http://evil")', "요즘 우울해요", "'-2+3", "'@SUM(A1)", "'+82 10"]
    assert body[1][6] == "슬픔" and body[1][3].endswith("+09:00")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    [event] = audit_rows(app, "export")
    assert event.conversation_id == conversation_id
    assert event.detail["reason"] == "위기 대응 회의 자료" and event.detail["format"] == "csv"
    assert event.user_email == "kim@example.kr"


def test_export_a_filtered_list_as_json(app):
    risky = converse(app, "안녕하세요", "죽고 싶어요")
    converse(app, "오늘 기뻐요")
    client = signed_in(app, "kim@example.kr")
    detail = f"/counsellor/conversations/{risky}"
    client.post(f"{detail}/notes", data={"csrf_token": csrf_from(client, detail), "body": "보호자에게 연락함"})
    assert "대화 <strong>1건</strong>" in page(client, "/counsellor/export?risk=high")
    response = export(client, reason="기관 보고용 자료 제출", risk="high", format="json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.data)
    assert document["reason"] == "기관 보고용 자료 제출"
    assert document["exported_by"] == "kim@example.kr"
    assert document["filters"] == {"risk": "high"}
    [conversation] = document["conversations"]
    assert conversation["id"] == risky
    assert [t["transcript"] for t in conversation["turns"]] == ["안녕하세요", "죽고 싶어요"]
    assert conversation["turns"][1]["risk"]["level"] == "high" and conversation["turns"][1]["risk"]["reasons"]
    assert set(conversation["turns"][0]["emotion"]["scores"]) == set(EMOTION_LABELS)
    assert conversation["notes"][0]["body"] == "보호자에게 연락함"
    assert "token" not in json.dumps(document), "the client's token hash stays in the database"
    [event] = audit_rows(app, "export")
    assert (event.conversation_id, event.detail["reason"], event.detail["filters"]) == (
        risky,
        "기관 보고용 자료 제출",
        {"risk": "high"},
    )


@pytest.mark.parametrize("reason", ["", "   ", "짧아"])
def test_export_needs_a_reason(app, reason):
    conversation_id = converse(app, "안녕하세요")
    client = signed_in(app, "kim@example.kr")
    response = export(client, reason=reason, conversation=conversation_id, format="csv")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "사유" in response.get_data(as_text=True)
    assert audit_rows(app, "export") == []


# --- deleting one conversation ---------------------------------------------------------------


def test_admin_deletes_one_conversation_with_its_files_and_a_reason(app):
    doomed = converse(app, "안녕하세요", audio=True)
    kept = converse(app, "저는 남아요", audio=True)
    client = signed_in(app, "lee@example.kr", role="admin")
    detail = f"/counsellor/conversations/{doomed}"
    client.post(f"{detail}/notes", data={"csrf_token": csrf_from(client, detail), "body": "삭제 요청 받음"})
    before = audio_files(app)
    assert len(before) == 6, "each: a reply to the text, a recording and its reply"
    url = f"/admin/conversations/{doomed}/delete"
    token = csrf_from(client, url)
    assert client.post(url, data={"csrf_token": token, "reason": ""}).status_code == 400
    response = client.post(url, data={"csrf_token": token, "reason": "내담자 본인의 삭제 요청"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Conversation, doomed) is None
        assert db.session.scalars(sa.select(Turn.conversation_id).distinct()).all() == [kept]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
    assert audio_files(app) == [p for p in before if kept in str(p)]
    assert not (Path(app.instance_path) / "audio" / doomed).exists()
    [event] = audit_rows(app, "delete_conversation")
    assert event.conversation_id == doomed and event.user_email == "lee@example.kr"
    assert event.detail["reason"] == "내담자 본인의 삭제 요청" and event.detail["turns"] == 2
    assert [e.action for e in audit_rows(app) if e.conversation_id == doomed][-1] == "delete_conversation"
    assert client.get(detail).status_code == 404
    assert "대화와 음성 파일을 모두 지웠어요" in page(client, "/counsellor/")


# --- database --------------------------------------------------------------------------------


def test_users_are_unique_by_email_in_any_case(app):
    make_user(app, "kim@example.kr")
    with app.app_context():
        from webapp.auth import AccountError

        with pytest.raises(AccountError, match="이미 있는 계정"):
            create_user("KIM@example.kr", PASSWORD, hash_method=FAST_HASH)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        assert db.session.scalar(sa.select(User.password_hash)).startswith("pbkdf2:sha256:1000$")
        assert PASSWORD not in db.session.scalar(sa.select(User.password_hash))
