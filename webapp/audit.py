"""The audit trail: who looked at or changed which conversation, when and from where.

Korean personal-information rules ask a clinic to keep access logs for years, check them, and
record a reason for every download. ``record`` adds one ``AuditEvent`` to the current database
session so that it commits together with the change it describes (a note, a deletion); views
that change nothing call ``record(..., commit=True)``. Rows are never updated nor deleted.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user

from webapp.db import AuditEvent, User, db, utcnow

#: Every action the trail knows, with its Korean name for the admin page.
ACTIONS: Mapping[str, str] = {
    "login": "로그인",
    "login_failed": "로그인 실패",
    "login_locked": "잠긴 상태에서 로그인 시도",
    "logout": "로그아웃",
    "view_list": "대화 목록 보기",
    "view_conversation": "대화 보기",
    "play_audio": "음성 듣기",
    "export": "내보내기",
    "note": "메모 남기기",
    "review": "확인 표시",
    "delete_conversation": "대화 삭제(요청)",
    "purge": "보관 기간이 지나 삭제",
    "view_audit": "접근 기록 보기",
    "view_users": "계정 목록 보기",
    "user_create": "계정 만들기",
    "user_disable": "계정 사용 중지",
    "user_enable": "계정 다시 사용",
    "user_password": "비밀번호 바꾸기",
    "alert_sent": "위험 알림 보냄",
    "alert_failed": "위험 알림 실패",
    "session_end": "로그인 세션 끝남",
    "view_sessions": "로그인 세션 보기",
}

#: Korean names of the keys kept in ``AuditEvent.detail``, and of the codes some of them hold.
DETAIL_NAMES: Mapping[str, str] = {
    "reason": "사유",
    "failure": "실패 이유",
    "format": "형식",
    "export": "내보내기 번호",
    "count": "함께 내보낸 대화",
    "filters": "조건",
    "page": "쪽",
    "shown": "보인 대화",
    "turn": "차례",
    "which": "음성",
    "note": "메모 번호",
    "account": "계정",
    "role": "역할",
    "turns": "말한 횟수",
    "last_activity_at": "마지막 대화",
    "retention_days": "보관 일수",
    "channel": "알림 방법",
    "attempt": "시도",
    "level": "위험도",
    "categories": "분류",
    "notice": "알림 번호",
    "error": "오류",
    "will_retry": "다시 보낼 예정",
    "test": "시험 알림",
    "session": "세션",
    "why": "끝난 이유",
    "sessions": "끝낸 세션 수",
}
VALUE_NAMES: Mapping[str, str] = {
    "unknown_account": "없는 계정",
    "password": "비밀번호가 틀림",
    "disabled": "사용 중지된 계정",
    "user": "내담자 목소리",
    "reply": "마음의 답",
    "email": "전자우편",
    "webhook": "웹훅",
    "logout": "로그아웃",
    "idle": "오래 쓰지 않음",
    "admin": "관리자가 끝냄",
    "moved": "다른 주소나 브라우저에서 쓰임",
    "account_disabled": "계정 사용 중지",
    "new_password": "비밀번호 바뀜",
}

_MAX_USER_AGENT = 255
_MAX_EMAIL = 254


def record(
    action: str,
    *,
    conversation_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    user: User | None = None,
    email: str | None = None,
    commit: bool = False,
) -> AuditEvent:
    """Add an audit event to the session (and commit it when ``commit``).

    Args:
        action: one of ``ACTIONS``.
        conversation_id: the conversation acted on, if any.
        detail: anything else worth keeping (a reason, the filters of a list, counts); JSON-able.
        user: who acted; the signed-in user when None (nobody outside a request, e.g. a CLI command).
        email: the address to keep, e.g. the one typed at a failed login; the user's when None.
        commit: commit the session right away.

    Raises:
        ValueError: ``action`` is not in ``ACTIONS``.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; expected one of {', '.join(ACTIONS)}")
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user._get_current_object()  # type: ignore[attr-defined]
    if email is None:
        email = user.email if user is not None else ""
    ip, user_agent = _origin()
    event = AuditEvent(
        at=utcnow(),
        user_id=user.id if user is not None else None,
        user_email=email[:_MAX_EMAIL],
        action=action,
        conversation_id=conversation_id,
        detail=dict(detail or {}),
        ip=ip,
        user_agent=user_agent[:_MAX_USER_AGENT],
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def _origin() -> tuple[str, str]:
    """``(ip, user agent)`` of the current request, or the command line's user outside one."""
    if has_request_context():
        # remote_addr is the client's address once ProxyFix (MAUM_TRUSTED_PROXIES) has read X-Forwarded-For.
        return request.remote_addr or "", request.user_agent.string or ""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return "", f"command line ({who})"


def count_recent(action: str, since: datetime, *, email: str | None = None, ip: str | None = None) -> int:
    """How many ``action`` events happened after ``since`` for this email or from this IP."""
    query = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action, AuditEvent.at > since)
    if email is not None:
        query = query.where(AuditEvent.user_email == email)
    if ip is not None:
        query = query.where(AuditEvent.ip == ip)
    return db.session.scalar(query) or 0


def last_time(action: str, *, user_id: str) -> datetime | None:
    """When ``user_id`` last did ``action``, or None."""
    return db.session.scalar(
        sa.select(sa.func.max(AuditEvent.at)).where(AuditEvent.action == action, AuditEvent.user_id == user_id)
    )


def window_start(minutes: int) -> datetime:
    """The moment ``minutes`` ago."""
    return utcnow() - timedelta(minutes=minutes)
