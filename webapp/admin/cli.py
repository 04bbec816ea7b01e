"""Operator commands: ``flask --app wsgi users ...`` for accounts and ``flask --app wsgi purge`` for retention.

Every change they make is recorded in the audit trail, with the operating-system user as the origin.
"""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webapp import sessions
from webapp.audiocrypt import new_key_b64
from webapp.auth import AccountError, create_user, find_user, set_active, set_password
from webapp.counsellor.display import format_kst
from webapp.counsellor.retention import purge
from webapp.db import ROLES, User, db
from webapp.extensions import get_audio_store, get_settings
from webapp.repair import ORPHAN_MIN_AGE_S, run_repair
from webapp.storage import reencrypt

users_cli = AppGroup("users", help="Counsellor and admin accounts.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return click.prompt("비밀번호", hide_input=True, confirmation_prompt="비밀번호 한 번 더")


def _user_or_fail(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"그런 계정이 없어요: {email}")
    return user


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="counsellor", show_default=True, help="Account role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_command(email: str, role: str, password_stdin: bool) -> None:
    """Create an account; the password is asked twice (or read from stdin)."""
    try:
        user = create_user(email, _read_password(password_stdin), role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"계정을 만들었어요: {user.email} ({user.role})")


@users_cli.command("list")
def list_command() -> None:
    """List every account: email, role, state, last sign-in (Korea time)."""
    for user in db.session.scalars(sa.select(User).order_by(User.email)):
        state = "사용 중" if user.active else "중지됨"
        last = format_kst(user.last_login_at) or "-"
        click.echo(f"{user.email}\t{user.role}\t{state}\t마지막 로그인 {last}")


@users_cli.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Disable an account and sign it out everywhere (accounts are never deleted)."""
    user = _user_or_fail(email)
    set_active(user, False)
    click.echo(f"계정을 사용 중지했어요: {user.email}")


@users_cli.command("enable")
@click.argument("email")
def enable_command(email: str) -> None:
    """Enable a disabled account again."""
    user = _user_or_fail(email)
    set_active(user, True)
    click.echo(f"계정을 다시 쓸 수 있게 했어요: {user.email}")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password_command(email: str, password_stdin: bool) -> None:
    """Set a new password (and sign the account out everywhere)."""
    user = _user_or_fail(email)
    try:
        set_password(user, _read_password(password_stdin))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"비밀번호를 바꿨어요: {user.email}")


@users_cli.command("sessions")
@click.argument("email")
def sessions_command(email: str) -> None:
    """List an account's latest sign-in sessions: id, state, started, last seen (Korea time), IP, browser."""
    user = _user_or_fail(email)
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    rows = sessions.recent_sessions(user)
    if not rows:
        click.echo(f"{user.email}: 로그인 세션이 없어요.")
    for row in rows:
        if row.ended_at is not None:
            state = f"끝남({sessions.END_REASONS.get(row.end_reason, row.end_reason)})"
        else:
            state = "오래 쓰지 않아 끝남" if sessions.is_idle(row, lifetime) else "사용 중"
        click.echo(
            f"{row.id[:8]}\t{state}\t시작 {format_kst(row.created_at)}\t마지막 {format_kst(row.last_seen_at)}"
            f"\t{row.ip or '-'}\t{row.user_agent or '-'}"
        )


@users_cli.command("end-sessions")
@click.argument("email")
def end_sessions_command(email: str) -> None:
    """End every live sign-in session of an account (each ending is recorded in the audit trail)."""
    user = _user_or_fail(email)
    ended = sessions.end_all(user, "admin")
    db.session.commit()
    click.echo(f"{user.email}의 로그인 세션 {ended}개를 끝냈어요.")


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Delete conversations whose last activity is older than MAUM_RETENTION_DAYS, with their audio.

    Sign-in session rows (IP address, browser) that ended that long ago go too; the audit trail keeps their endings.
    """
    days = get_settings().retention_days
    if days <= 0:
        click.echo("MAUM_RETENTION_DAYS가 0이라서 아무것도 지우지 않았어요 (모두 보관).")
        return
    result = purge(get_audio_store(), days, dry_run=dry_run)
    when = format_kst(result.cutoff)
    stale_sessions = sessions.forget_before(result.cutoff, dry_run=dry_run)
    if dry_run:
        click.echo(f"{when} 전에 마지막으로 대화한 {len(result.conversation_ids)}개 대화를 지울 수 있어요 (미리 보기).")
        for conversation_id in result.conversation_ids:
            click.echo(conversation_id)
        if stale_sessions:
            click.echo(f"{when} 전에 끝난 로그인 세션 기록 {stale_sessions}개도 지울 수 있어요.")
        return
    click.echo(
        f"{when} 전에 마지막으로 대화한 {len(result.conversation_ids)}개 대화와 "
        f"음성 파일 {result.files_removed}개를 지웠어요."
    )
    if stale_sessions:
        click.echo(f"{when} 전에 끝난 로그인 세션 기록(IP 주소, 브라우저) {stale_sessions}개도 지웠어요.")


@click.command("repair")
@click.option("--dry-run", is_flag=True, help="Only list what would be repaired.")
@click.option(
    "--min-age-minutes",
    type=click.FloatRange(min=0),
    default=ORPHAN_MIN_AGE_S / 60,
    show_default=True,
    help="Leave files younger than this alone (they may belong to a turn being stored); 0 when the app is stopped.",
)
@with_appcontext
def repair_command(dry_run: bool, min_age_minutes: float) -> None:
    """Remove audio files no turn refers to and mark turns whose audio files are missing."""
    report = run_repair(current_app._get_current_object(), dry_run=dry_run, min_age_s=min_age_minutes * 60)  # type: ignore[attr-defined]
    prefix = "(미리 보기) " if dry_run else ""
    for action in report.actions:
        click.echo(prefix + action.line())
    n = len(report.actions)
    if n == 0:
        click.echo("고칠 것이 없어요.")
    elif dry_run:
        click.echo(f"{n}건을 고칠 수 있어요 (미리 보기, 아무것도 바꾸지 않았어요).")
    else:
        click.echo(f"{n}건을 고쳤어요.")


audio_cli = AppGroup("audio", help="Conversation audio at rest: encryption keys.")


@audio_cli.command("reencrypt")
@with_appcontext
def reencrypt_command() -> None:
    """Rewrite every audio object under MAUM_AUDIO_KEY_ID (after a key rotation); safe to run again."""
    report = reencrypt(get_audio_store())
    click.echo(
        f"새 키로 다시 암호화한 파일 {report.rewritten}개, 이미 새 키였던 파일 {report.current}개, "
        f"실패 {len(report.failed or [])}개."
    )
    for rel_path in report.failed or []:
        click.echo(f"실패: {rel_path}")
    if report.failed:
        sys.exit(1)


@audio_cli.command("new-key")
@click.argument("key_id")
def new_key_command(key_id: str) -> None:
    """Print a fresh MAUM_AUDIO_KEYS entry (KEY_ID:base64) to add to every node's settings."""
    click.echo(f"{key_id}:{new_key_b64()}")
