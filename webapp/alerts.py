"""On-duty alerts: tell the counsellors at once when a conversation becomes high risk.

A conversation *becomes* high risk with its first high-risk turn, and again with the first one
after a counsellor marked it reviewed. Right after such a turn is stored, ``after_turn`` writes one
``AlertNotice`` per configured channel (e-mail over SMTP, a signed webhook) to the outbox table and
wakes this worker's sender thread. The client's turn never waits for the mail server: the request
only commits the outbox rows, and any error in doing so is logged, never raised.

The sender thread claims a due notice by raising its ``attempts`` in a conditional UPDATE (so two
gunicorn workers never send the same try), sends it, and marks it sent, or schedules a retry after
``alert_retry_s`` seconds, doubling each time, until ``alert_max_attempts`` tries were made; a notice
whose sender died while sending is claimed again once its lease ends. Every try that was sent or
failed leaves a row in the audit trail.

A notice carries no client words: only the link to the conversation (and its risky turn), the time,
the level and the categories. The risk reasons are the client's own phrases, so they stay out.

Webhook calls are ``POST`` with a JSON body and two headers: ``X-Maum-Timestamp`` (Unix seconds)
and ``X-Maum-Signature: sha256=<hex>``, the HMAC-SHA256 under the shared secret of
``"<timestamp>." + body``. A receiver recomputes it, compares in constant time, and refuses old
timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, url_for
from flask.cli import with_appcontext

from webapp import audit
from webapp.config import AppSettings
from webapp.counsellor.display import category_name, format_kst, iso_kst, risk_name
from webapp.db import AlertNotice, Conversation, Turn, db, new_id, utcnow
from webapp.extensions import ALERTS, get_settings

log = logging.getLogger(__name__)

#: How long a claimed notice belongs to the thread sending it before another may take it over.
SENDING_LEASE_S = 120.0

#: Longest sleep of an idle sender thread between looks at the outbox, in seconds.
IDLE_POLL_S = 60.0

_MAX_ERROR = 255


@dataclass(frozen=True)
class Notice:
    """What a notice says; never any client words."""

    conversation_id: str | None  # None for a test notice
    turn_number: int | None  # 1-based
    level: str
    categories: tuple[str, ...]
    link: str
    at: datetime
    notice_id: str
    test: bool = False

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {
            "event": "test" if self.test else "conversation_high_risk",
            "notice_id": self.notice_id,
            "conversation_id": self.conversation_id,
            "turn": self.turn_number,
            "level": self.level,
            "categories": list(self.categories),
            "url": self.link,
            "at": iso_kst(self.at),
        }


def channels(settings: AppSettings) -> tuple[str, ...]:
    """The channels the settings configure, in ``ALERT_CHANNELS`` order."""
    found = []
    if settings.alert_smtp_host:
        found.append("email")
    if settings.alert_webhook_url:
        found.append("webhook")
    return tuple(found)


def recipients(settings: AppSettings) -> list[str]:
    """The on-duty addresses of ``MAUM_ALERT_EMAIL_TO``."""
    return [a.strip() for a in settings.alert_email_to.split(",") if a.strip()]


# --- deciding and queueing -------------------------------------------------------------------------


def after_turn(turn: Turn) -> None:
    """Queue notices when ``turn`` made its conversation high risk. Never raises: the turn is already stored."""
    try:
        queued = queue_for(turn)
    except Exception:
        log.exception("could not queue the alert for turn %s; the turn itself is stored", turn.id)
        db.session.rollback()
        return
    if queued:
        dispatcher(current_app).wake()


def becomes_high(turn: Turn) -> bool:
    """True when ``turn`` is the first high-risk turn of its conversation since the last review."""
    if turn.risk_level != "high":
        return False
    reviewed_at = db.session.scalar(sa.select(Conversation.reviewed_at).where(Conversation.id == turn.conversation_id))
    earlier = sa.select(sa.func.count()).where(
        Turn.conversation_id == turn.conversation_id, Turn.risk_level == "high", Turn.index < turn.index
    )
    if reviewed_at is not None:
        earlier = earlier.where(Turn.created_at > reviewed_at)
    return not db.session.scalar(earlier)


def queue_for(turn: Turn) -> list[AlertNotice]:
    """Write (and commit) one outbox notice per configured channel if ``turn`` raises an alert."""
    settings: AppSettings = get_settings()
    wanted = channels(settings)
    if not wanted or not becomes_high(turn):
        return []
    link = conversation_link(settings, turn.conversation_id, turn.index + 1)
    now = utcnow()
    notices = [
        AlertNotice(
            id=new_id(),
            conversation_id=turn.conversation_id,
            turn_index=turn.index,
            channel=channel,
            created_at=now,
            level=turn.risk_level,
            categories=list(turn.risk_categories),
            link=link,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_error="",
        )
        for channel in wanted
    ]
    db.session.add_all(notices)
    db.session.commit()
    log.info("alert queued for conversation %s (%s)", turn.conversation_id, ", ".join(wanted))
    return notices


def conversation_link(settings: AppSettings, conversation_id: str | None, turn_number: int | None) -> str:
    """Absolute link to the conversation page at the risky turn (the list for a test notice).

    ``MAUM_ALERT_BASE_URL`` is the app's root as counsellors reach it; without it, the address the
    current request came to; outside a request and without it, a path only.
    """
    anchor = f"#turn-{turn_number}" if turn_number else ""
    if settings.alert_base_url:
        path = f"/counsellor/conversations/{conversation_id}" if conversation_id else "/counsellor/"
        return settings.alert_base_url.rstrip("/") + path + anchor
    path = f"/counsellor/conversations/{conversation_id}" if conversation_id else "/counsellor/"
    if not has_request_context():
        return path + anchor  # e.g. `flask alerts test` without MAUM_ALERT_BASE_URL
    if conversation_id is None:
        return url_for("counsellor.index", _external=True)
    return url_for("counsellor.conversation", conversation_id=conversation_id, _external=True) + anchor


# --- sending ----------------------------------------------------------------------------------------


def email_message(settings: AppSettings, notice: Notice) -> EmailMessage:
    """The alert e-mail: Korean, plain text, only the link, time, level and categories."""
    kinds = ", ".join(category_name(c) for c in notice.categories) or "-"
    message = EmailMessage()
    if notice.test:
        message["Subject"] = "[마음] 알림 시험: 이 메일이 보이면 위험 알림이 잘 도착해요"
        opening = "마음의 위험 알림을 시험으로 보내 드려요. 실제 대화와는 관계가 없어요."
    else:
        message["Subject"] = f"[마음] 위험 {risk_name(notice.level)}: 지금 확인이 필요한 대화가 있어요"
        opening = "내담자와의 대화에서 위험이 높은 신호가 나왔어요. 되도록 빨리 확인해 주세요."
    message["From"] = settings.alert_email_from or settings.alert_smtp_username or "maum@localhost"
    message["To"] = ", ".join(recipients(settings))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=notice.notice_id, domain="maum.local")
    lines = [
        opening,
        "",
        f"시각: {format_kst(notice.at)} (한국 시간)",
        f"위험도: {risk_name(notice.level)}",
        f"분류: {kinds}",
        f"대화 보기: {notice.link}",
        "",
        "내담자의 말은 이 메일에 담지 않았어요. 로그인해서 대화를 보고, 확인했다고 표시해 주세요.",
        "위급하면 112나 119에 먼저 연락해 주세요.",
    ]
    message.set_content("\n".join(lines))
    return message


def send_email(settings: AppSettings, notice: Notice) -> None:
    """Send the alert e-mail to every on-duty address.

    Raises:
        OSError, smtplib.SMTPException: the server could not be reached or refused the message.
    """
    message = email_message(settings, notice)
    timeout = settings.alert_timeout_s
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.alert_smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(settings.alert_smtp_host, settings.alert_smtp_port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=timeout)
    with smtp:
        if settings.alert_smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.alert_smtp_username:
            smtp.login(settings.alert_smtp_username, settings.alert_smtp_password)
        refused = smtp.send_message(message)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Maum-Signature`` value: ``sha256=`` and the HMAC of ``"<timestamp>." + body``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected webhook fails: following it would turn the POST into a GET and drop the body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def send_webhook(settings: AppSettings, notice: Notice) -> None:
    """POST the signed JSON notice to the webhook.

    Raises:
        OSError: no connection, a timeout, or a status other than 2xx (``urllib.error.HTTPError``).
    """
    body = json.dumps(notice.payload(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        settings.alert_webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "maum-alerts/1",
            "X-Maum-Timestamp": timestamp,
            "X-Maum-Signature": sign(settings.alert_webhook_secret, timestamp, body),
            "X-Maum-Notice": notice.notice_id,
        },
    )
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(request, timeout=settings.alert_timeout_s) as response:
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(notice.link, response.status, "webhook refused", response.headers, None)


SENDERS = {"email": send_email, "webhook": send_webhook}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]


def _audit(sent: bool, notice: Notice, channel: str, attempt: int, error: str = "", will_retry: bool = False) -> None:
    detail: dict[str, Any] = {
        "channel": channel,
        "attempt": attempt,
        "level": notice.level,
        "categories": list(notice.categories),
        "notice": notice.notice_id,
    }
    if notice.test:
        detail["test"] = True
    if not sent:
        detail["error"] = error
        detail["will_retry"] = will_retry
    audit.record("alert_sent" if sent else "alert_failed", conversation_id=notice.conversation_id, detail=detail)


def _notice_of(row: AlertNotice) -> Notice:
    return Notice(
        conversation_id=row.conversation_id,
        turn_number=row.turn_index + 1,
        level=row.level,
        categories=tuple(row.categories),
        link=row.link,
        at=row.created_at,
        notice_id=row.id,
    )


def _claim(row_id: str, attempts: int, now: datetime) -> bool:
    """Take a due notice for this thread: only one claimer sees its ``attempts`` unchanged."""
    claimed = db.session.execute(
        sa.update(AlertNotice)
        .where(
            AlertNotice.id == row_id, AlertNotice.attempts == attempts, AlertNotice.status.in_(("pending", "sending"))
        )
        .values(status="sending", attempts=attempts + 1, next_attempt_at=now + timedelta(seconds=SENDING_LEASE_S))
    )
    db.session.commit()
    return claimed.rowcount == 1


def deliver_due(settings: AppSettings, now: datetime | None = None) -> int:
    """Send every notice that is due (retries included); return how many tries were made.

    Runs inside an app context, in the sender thread or from ``flask alerts deliver``.
    """
    tries = 0
    while True:
        moment = now or utcnow()
        due = db.session.execute(
            sa.select(AlertNotice.id, AlertNotice.attempts)
            .where(AlertNotice.status.in_(("pending", "sending")), AlertNotice.next_attempt_at <= moment)
            .order_by(AlertNotice.next_attempt_at)
            .limit(20)
        ).all()
        db.session.commit()
        claimed = [(row_id, attempts) for row_id, attempts in due if _claim(row_id, attempts, moment)]
        if not claimed:
            return tries
        for row_id, attempts in claimed:
            tries += 1
            _deliver_one(settings, row_id, attempts + 1)
        if now is not None:
            return tries  # a fixed clock: one round, or retries due "now" would loop for ever


def _deliver_one(settings: AppSettings, row_id: str, attempt: int) -> None:
    row = db.session.get(AlertNotice, row_id)
    if row is None:
        return
    notice = _notice_of(row)
    channel = row.channel
    db.session.commit()  # no transaction stays open while the network is slow
    try:
        SENDERS[channel](settings, notice)
    except Exception as exc:  # any failure is a failed try; it must never kill the sender thread
        error = _describe(exc)
        will_retry = attempt < settings.alert_max_attempts
        delay = settings.alert_retry_s * 2 ** (attempt - 1)
        log.warning("alert %s by %s failed (try %d): %s", row_id, channel, attempt, error)
        values: dict[str, Any] = {"last_error": error, "status": "pending" if will_retry else "failed"}
        if will_retry:
            values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        db.session.execute(sa.update(AlertNotice).where(AlertNotice.id == row_id).values(**values))
        _audit(False, notice, channel, attempt, error, will_retry)
    else:
        log.info("alert %s sent by %s (try %d)", row_id, channel, attempt)
        db.session.execute(
            sa.update(AlertNotice)
            .where(AlertNotice.id == row_id)
            .values(status="sent", sent_at=utcnow(), last_error="")
        )
        _audit(True, notice, channel, attempt)
    db.session.commit()


def next_due_at() -> datetime | None:
    """When the next pending notice is due, or None when nothing waits."""
    return db.session.scalar(
        sa.select(sa.func.min(AlertNotice.next_attempt_at)).where(AlertNotice.status.in_(("pending", "sending")))
    )


class Dispatcher:
    """The sender thread of one worker process: started on first use, woken when a notice is queued."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Start the thread if needed, and make it look at the outbox now."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="maum-alerts", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (tests; a worker exiting lets the daemon thread go)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        settings: AppSettings = get_settings(self.app)
        while not self._stop.is_set():
            self._wake.clear()
            wait_s = IDLE_POLL_S
            try:
                with self.app.app_context():
                    deliver_due(settings)
                    due = next_due_at()
                    db.session.remove()
                if due is not None:
                    wait_s = min(IDLE_POLL_S, max(0.05, (due - utcnow()).total_seconds()))
            except Exception:
                log.exception("the alert sender hit an error; it tries again shortly")
                wait_s = min(IDLE_POLL_S, max(1.0, settings.alert_retry_s))
            self._wake.wait(wait_s)


def dispatcher(app: Flask) -> Dispatcher:
    """The app's sender (one per process)."""
    found = app.extensions.get(ALERTS)
    if found is None:
        found = app.extensions.setdefault(ALERTS, Dispatcher(app))
    return found


def register(app: Flask) -> None:
    """Add ``flask alerts`` and start the sender with the first request, so leftovers from a restart go out."""
    app.cli.add_command(alerts_cli)
    if not channels(get_settings(app)):
        return
    started = threading.Event()

    @app.before_request
    def _start_sender() -> None:
        if not started.is_set():
            started.set()
            dispatcher(app).wake()


# --- command line ----------------------------------------------------------------------------------


@click.group("alerts", help="On-duty alerts: send a test notice, or send what waits in the outbox.")
def alerts_cli() -> None:
    """``flask alerts``: send or test the on-duty notices for high-risk conversations."""
    pass


@alerts_cli.command("test", help="Send a test notice over every configured channel now and say how it went.")
@with_appcontext
def test_command() -> None:
    """Send a test notice over every configured channel now and print, in Korean, how each went."""
    settings: AppSettings = get_settings()
    configured = channels(settings)
    if not configured:
        raise click.ClickException(
            "알림 설정이 없어요. MAUM_ALERT_SMTP_HOST와 MAUM_ALERT_EMAIL_TO, 또는 MAUM_ALERT_WEBHOOK_URL과 "
            "MAUM_ALERT_WEBHOOK_SECRET을 정해 주세요."
        )
    notice = Notice(
        conversation_id=None,
        turn_number=None,
        level="high",
        categories=(),
        link=conversation_link(settings, None, None),
        at=utcnow(),
        notice_id=new_id(),
        test=True,
    )
    failed = []
    for channel in configured:
        where = ", ".join(recipients(settings)) if channel == "email" else settings.alert_webhook_url
        try:
            SENDERS[channel](settings, notice)
        except Exception as exc:
            failed.append(channel)
            _audit(False, notice, channel, 1, _describe(exc))
            click.echo(f"{channel}: 보내지 못했어요 ({where}): {_describe(exc)}", err=True)
        else:
            _audit(True, notice, channel, 1)
            click.echo(f"{channel}: 보냈어요 ({where})")
    db.session.commit()
    if failed:
        raise SystemExit(1)


@alerts_cli.command("deliver", help="Send every notice that is due now (the app's sender thread does this itself).")
@with_appcontext
def deliver_command() -> None:
    """Send every notice that is due now (the app's sender thread does this by itself)."""
    tries = deliver_due(get_settings())
    click.echo(f"{tries}건을 보내 보았어요.")
