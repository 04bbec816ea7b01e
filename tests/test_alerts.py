"""On-duty alerts against a real SMTP server (aiosmtpd) and a real HTTP receiver, both on 127.0.0.1.

The client talks through the JSON API on the fake pipeline (the real risk rules); the app's own
sender thread delivers the notices. Sockets are allowed for these tests only, and only to
127.0.0.1 (PostgreSQL, in the second run of each test, is reached over its Unix socket).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import flask_migrate
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.browser import free_port
from tests.conftest import FAKE_PIPELINE
from tests.databases import database_url  # noqa: F401  (the outbox runs on SQLite and PostgreSQL)
from tests.test_counsellor import audit_rows, converse, page, signed_in, turns_of
from webapp import alerts, create_app
from webapp.config import AppSettings
from webapp.db import AlertNotice, Conversation, db, utcnow

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

SECRET = "duty-webhook-secret"
BASE_URL = "https://maum.example.org"
DUTY = ["duty1@maum.example", "duty2@maum.example"]
CALM = "요즘 회사 일이 많아서 지쳤어요"
RISKY = "오늘 밤 한강 다리에서 뛰어내릴 거예요"
CLIENT_WORDS = ["회사", "지쳤", "한강", "다리", "뛰어내", "오늘 밤"]


class Mailbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


class Receiver:
    """A webhook receiver: records each call; answers ``status_for(n)`` to the n-th call (1-based)."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.status_for: Callable[[int], int] = lambda n: 200
        self.release = threading.Event()
        self.release.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.release.wait(10)
                self.send_response(receiver.status_for(len(receiver.calls)))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/maum"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        hook.server.shutdown()
        hook.server.server_close()
        thread.join(5)


@pytest.fixture
def settings(settings: AppSettings, mailbox, receiver) -> AppSettings:
    return dataclasses.replace(
        settings,
        alert_base_url=BASE_URL,
        alert_smtp_host="127.0.0.1",
        alert_smtp_port=mailbox[1],
        alert_smtp_tls="none",
        alert_email_from="maum@maum.example",
        alert_email_to=", ".join(DUTY),
        alert_webhook_url=receiver.url,
        alert_webhook_secret=SECRET,
        alert_max_attempts=3,
        alert_retry_s=0.05,
        alert_timeout_s=5.0,
    )


@pytest.fixture(autouse=True)
def stop_sender(app):
    yield
    alerts.dispatcher(app).stop()


def wait_until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def notices(app, conversation_id: str | None = None) -> list[AlertNotice]:
    with app.app_context():
        query = sa.select(AlertNotice).order_by(AlertNotice.created_at, AlertNotice.channel)
        if conversation_id:
            query = query.where(AlertNotice.conversation_id == conversation_id)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


def settled(app) -> bool:
    return all(n.status in ("sent", "failed") for n in notices(app))


def test_a_high_risk_turn_mails_the_on_duty_counsellors_the_link_and_no_client_words(app, mailbox):
    box, _ = mailbox
    conversation_id = converse(app, CALM, RISKY)
    wait_until(lambda: len(box.messages) == 1)
    rcpt, message = box.messages[0]
    assert rcpt == DUTY
    body = message.get_content()
    assert f"{BASE_URL}/counsellor/conversations/{conversation_id}#turn-2" in body
    assert "위험도: 높음" in body and "분류: 자살 위험" in body
    assert "(한국 시간)" in body
    assert "[마음] 위험 높음" in message["Subject"]
    for word in CLIENT_WORDS:
        assert word not in body and word not in message["Subject"], word
    stored = turns_of(app, conversation_id)[1]
    for reason in stored.risk_reasons:
        assert reason not in body, "the matched phrases are the client's words too"


def test_the_webhook_gets_a_signed_json_notice_without_client_words(app, receiver):
    conversation_id = converse(app, CALM, RISKY)
    wait_until(lambda: len(receiver.calls) == 1)
    headers, body = receiver.calls[0]
    expected = hmac.new(SECRET.encode(), headers["x-maum-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(headers["x-maum-signature"], "sha256=" + expected.hexdigest())
    assert abs(int(headers["x-maum-timestamp"]) - time.time()) < 60
    payload = json.loads(body)
    assert payload["event"] == "conversation_high_risk"
    assert payload["conversation_id"] == conversation_id
    assert payload["url"] == f"{BASE_URL}/counsellor/conversations/{conversation_id}#turn-2"
    assert payload["level"] == "high" and "suicide" in payload["categories"] and payload["turn"] == 2
    assert payload["at"].endswith("+09:00")
    text = body.decode("utf-8")
    for word in CLIENT_WORDS:
        assert word not in text, word
    tampered = hmac.new(SECRET.encode(), headers["x-maum-timestamp"].encode() + b"." + body + b" ", hashlib.sha256)
    assert headers["x-maum-signature"] != "sha256=" + tampered.hexdigest()


def test_each_notice_sent_is_audited(app, mailbox, receiver):
    conversation_id = converse(app, RISKY)
    wait_until(lambda: settled(app) and len(audit_rows(app, "alert_sent")) == 2)
    sent = audit_rows(app, "alert_sent")
    assert {e.detail["channel"] for e in sent} == {"email", "webhook"}
    assert all(e.conversation_id == conversation_id and e.detail["level"] == "high" for e in sent)
    assert all("suicide" in e.detail["categories"] and e.detail["attempt"] == 1 for e in sent)
    assert [n.status for n in notices(app, conversation_id)] == ["sent", "sent"]


def start(app) -> tuple[str, str]:
    response = app.test_client().post("/api/conversations")
    return response.json["id"], response.json["token"]


def say(app, conversation: tuple[str, str], text: str):
    conversation_id, token = conversation
    response = app.test_client().post(
        f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.json
    return response


def test_only_becoming_high_alerts_and_again_after_a_review(app, mailbox, receiver):
    box, _ = mailbox
    conversation = start(app)
    conversation_id = conversation[0]
    say(app, conversation, RISKY)
    say(app, conversation, "죽고 싶어요")
    wait_until(lambda: settled(app) and len(box.messages) == 1)
    assert len(notices(app, conversation_id)) == 2, "one per channel for the first high turn, none for the second"
    with app.app_context():
        db.session.execute(
            sa.update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(reviewed_at=utcnow(), updated_at=Conversation.updated_at)
        )
        db.session.commit()
    say(app, conversation, "오늘은 조금 나아요")
    assert len(notices(app, conversation_id)) == 2, "a calm turn after the review raises nothing"
    say(app, conversation, "손목을 긋고 싶어요")
    wait_until(lambda: settled(app) and len(box.messages) == 2 and len(receiver.calls) == 2)
    rows = notices(app, conversation_id)
    assert len(rows) == 4
    assert {(n.turn_index, tuple(n.categories)) for n in rows[2:]} == {(3, ("self_harm",))}
    second = box.messages[1][1].get_content()
    assert "분류: 자해" in second and f"{conversation_id}#turn-4" in second
    assert json.loads(receiver.calls[1][1])["turn"] == 4


def test_a_failing_receiver_is_retried_with_each_try_audited(app, receiver):
    receiver.status_for = lambda n: 500 if n <= 2 else 204
    conversation_id = converse(app, RISKY)
    wait_until(lambda: settled(app) and len(receiver.calls) == 3)
    webhook = [n for n in notices(app, conversation_id) if n.channel == "webhook"][0]
    assert (webhook.status, webhook.attempts) == ("sent", 3)
    failed = [e for e in audit_rows(app, "alert_failed") if e.detail["channel"] == "webhook"]
    assert [(e.detail["attempt"], e.detail["will_retry"]) for e in failed] == [(1, True), (2, True)]
    assert all("500" in e.detail["error"] for e in failed)
    sent = [e for e in audit_rows(app, "alert_sent") if e.detail["channel"] == "webhook"]
    assert [e.detail["attempt"] for e in sent] == [3]
    bodies = {body for _, body in receiver.calls}
    assert len(bodies) == 1, "every try sends the same notice"


def test_a_dead_mail_server_is_given_up_after_the_last_try_and_the_turn_is_kept(app, settings, receiver):
    closed_port = free_port()  # nothing listens there
    dead = dataclasses.replace(settings, alert_smtp_port=closed_port)
    app.extensions["maum.settings"] = dead
    conversation_id = converse(app, CALM, RISKY)
    assert [t.risk_level for t in turns_of(app, conversation_id)] == ["none", "high"]
    wait_until(lambda: settled(app))
    email = [n for n in notices(app, conversation_id) if n.channel == "email"][0]
    assert (email.status, email.attempts) == ("failed", 3)
    assert "Connection" in email.last_error or "refused" in email.last_error.lower()
    failed = [e for e in audit_rows(app, "alert_failed") if e.detail["channel"] == "email"]
    assert [(e.detail["attempt"], e.detail["will_retry"]) for e in failed] == [(1, True), (2, True), (3, False)]
    assert len(receiver.calls) == 1, "the webhook went out all the same"


def test_the_clients_turn_never_waits_for_the_receiver(app, receiver):
    receiver.release.clear()  # the receiver holds every call until released
    conversation = start(app)
    began = time.monotonic()
    response = say(app, conversation, RISKY)
    took = time.monotonic() - began
    assert response.json["risk"]["level"] == "high"
    assert "109" in response.json["reply"]["text"]
    wait_until(lambda: len(receiver.calls) == 1)
    assert [n.status for n in notices(app, conversation[0]) if n.channel == "webhook"] == ["sending"]
    receiver.release.set()
    wait_until(lambda: settled(app))
    assert took < 5, "the reply came back while the receiver still held the notice"


def test_a_broken_outbox_never_breaks_the_turn(app, monkeypatch, mailbox):
    def broken(turn):
        raise RuntimeError("outbox table is gone")

    monkeypatch.setattr(alerts, "queue_for", broken)
    conversation_id = converse(app, RISKY)
    assert [t.risk_level for t in turns_of(app, conversation_id)] == ["high"]
    assert notices(app) == []


def test_flask_alerts_test_sends_a_test_notice_over_both_channels(app, runner, mailbox, receiver):
    box, _ = mailbox
    result = runner.invoke(args=["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert "email: 보냈어요" in result.output and "webhook: 보냈어요" in result.output
    assert len(box.messages) == 1 and "알림 시험" in box.messages[0][1]["Subject"]
    assert f"{BASE_URL}/counsellor/" in box.messages[0][1].get_content()
    payload = json.loads(receiver.calls[0][1])
    assert payload["event"] == "test" and payload["conversation_id"] is None
    sent = audit_rows(app, "alert_sent")
    assert {e.detail["channel"] for e in sent} == {"email", "webhook"} and all(e.detail["test"] for e in sent)


def test_without_a_base_url_the_link_follows_the_request_or_is_a_path(app, settings, mailbox):
    box, _ = mailbox
    app.extensions["maum.settings"] = dataclasses.replace(settings, alert_base_url="", alert_webhook_url="")
    conversation_id = converse(app, RISKY)
    wait_until(lambda: len(box.messages) == 1)
    assert f"http://localhost/counsellor/conversations/{conversation_id}#turn-1" in box.messages[0][1].get_content()
    result = app.test_cli_runner().invoke(args=["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert "대화 보기: /counsellor/\n" in box.messages[1][1].get_content()


def test_flask_alerts_test_fails_loudly_when_a_channel_fails(app, runner, receiver):
    receiver.status_for = lambda n: 503
    result = runner.invoke(args=["alerts", "test"])
    assert result.exit_code == 1
    assert "webhook: 보내지 못했어요" in result.output
    assert [e.detail["channel"] for e in audit_rows(app, "alert_failed")] == ["webhook"]


# --- without any receiver: settings and the quiet default ------------------------------------------


def test_settings_refuse_half_configured_alerts():
    with pytest.raises(ValueError, match="MAUM_ALERT_SMTP_TLS"):
        AppSettings(alert_smtp_tls="tls")
    with pytest.raises(ValueError, match="MAUM_ALERT_WEBHOOK_SECRET"):
        AppSettings(alert_webhook_url="https://hooks.example/maum")
    with pytest.raises(ValueError, match="MAUM_ALERT_EMAIL_TO"):
        AppSettings(alert_smtp_host="smtp.example")
    loaded = AppSettings.from_env({"MAUM_ALERT_SMTP_HOST": "smtp.example", "MAUM_ALERT_EMAIL_TO": "a@x, b@x"})
    assert alerts.channels(loaded) == ("email",) and alerts.recipients(loaded) == ["a@x", "b@x"]


def test_without_alert_settings_nothing_is_queued_and_no_thread_starts(tmp_path):
    plain = AppSettings(instance_path=str(tmp_path / "i"), secret_key="k", pipeline=FAKE_PIPELINE)
    app = create_app(plain)
    with app.app_context():
        flask_migrate.upgrade()
    converse(app, RISKY)
    assert notices(app) == []
    assert "maum.alerts" not in app.extensions
    with app.app_context():
        db.engine.dispose()


# --- encrypted SMTP with a sign-in, and the outbox command --------------------------------------------


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 made with Debian's openssl: ``(cert, key)`` paths."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_alert_mail_goes_encrypted_with_a_sign_in(app, settings, certificate, monkeypatch, mode):
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    signed_in_as: list[str] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"maum" and auth_data.password == b"s3cret-pw"
        if ok:
            signed_in_as.append(auth_data.login.decode())
        return AuthResult(success=ok)

    box = Mailbox()
    # aiosmtpd counts only STARTTLS as TLS when it decides to offer AUTH, and warns when AUTH is required
    # without it; over ssl the whole link is TLS, so AUTH is offered (not demanded) and the client uses it.
    if mode == "starttls":
        options = {"tls_context": server_context, "require_starttls": True, "auth_required": True}
    else:
        options = {"ssl_context": server_context, "auth_require_tls": False}
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, **options)
    controller.start()
    # The client checks the server's certificate: trust the test's own, as a clinic would its CA.
    trusting = ssl.create_default_context(cafile=cert)
    monkeypatch.setattr(alerts.ssl, "create_default_context", lambda: trusting)
    app.extensions["maum.settings"] = dataclasses.replace(
        settings,
        alert_smtp_port=controller.port,
        alert_smtp_tls=mode,
        alert_smtp_username="maum",
        alert_smtp_password="s3cret-pw",
        alert_webhook_url="",
    )
    try:
        result = app.test_cli_runner().invoke(args=["alerts", "test"])
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert signed_in_as == ["maum"]
    assert len(box.messages) == 1 and box.messages[0][0] == DUTY


def test_alert_mail_refuses_a_server_it_cannot_trust(app, settings, certificate):
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), tls_context=server_context)
    controller.start()
    app.extensions["maum.settings"] = dataclasses.replace(
        settings, alert_smtp_port=controller.port, alert_smtp_tls="starttls", alert_webhook_url=""
    )
    try:
        result = app.test_cli_runner().invoke(args=["alerts", "test"])
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.output or "certificate" in result.output.lower()
    assert box.messages == []


def test_flask_alerts_deliver_sends_what_waits_in_the_outbox(app, runner, mailbox, receiver):
    box, _ = mailbox
    with app.app_context():
        db.session.add(
            AlertNotice(
                conversation_id="c" * 32, turn_index=0, channel="email", level="high", categories=["abuse"],
                link=f"{BASE_URL}/counsellor/conversations/{'c' * 32}#turn-1",
            )
        )  # fmt: skip
        db.session.commit()
    result = runner.invoke(args=["alerts", "deliver"])
    assert result.exit_code == 0, result.output
    assert len(box.messages) == 1 and "분류: 학대·폭력 피해" in box.messages[0][1].get_content()
    assert [n.status for n in notices(app)] == ["sent"]
    assert runner.invoke(args=["alerts", "deliver"]).output.startswith("0건"), "a sent notice is not sent twice"


def test_the_conversation_page_shows_who_was_notified(app, receiver):
    receiver.status_for = lambda n: 500
    conversation_id = converse(app, CALM, RISKY)
    wait_until(lambda: settled(app))
    client = signed_in(app, "kim@maum.example")
    html = page(client, f"/counsellor/conversations/{conversation_id}")
    block = html[html.index('class="overview-block notice-summary"') :]
    block = block[: block.index("</ul>")]
    assert re.search(r"2번째 차례 ·\s*전자우편:\s*보냈어요", block)
    assert re.search(r'data-status="failed">.*2번째 차례 ·\s*웹훅:\s*보내지 못했어요 \(3번 시도\)', block, re.S)
