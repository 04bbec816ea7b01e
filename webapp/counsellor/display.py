"""How the review pages show things: Korea time, Korean names of emotions and risk levels."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO, RISK_LEVELS

#: Counsellors read times in Korea time, whatever the server's zone.
KST = ZoneInfo("Asia/Seoul")

RISK_NAMES_KO = {"none": "없음", "watch": "주의", "high": "높음"}

INPUT_KIND_NAMES_KO = {"audio": "음성", "text": "글"}


CATEGORY_NAMES_KO = {
    "suicide": "자살 위험",
    "self_harm": "자해",
    "harm_to_others": "다른 사람을 해칠 위험",
    "abuse": "학대·폭력 피해",
    "child_at_risk": "아동 위험",
    "school_violence": "학교폭력",
    "medical": "응급 의료 상황",
    "imminent": "지금 당장 위험",
    "caregiver": "돌봄 소진",
}


def to_kst(value: datetime | None) -> datetime | None:
    """The same moment in Korea time."""
    return value.astimezone(KST) if value is not None else None


def format_kst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` in Korea time as text (empty for None)."""
    return value.astimezone(KST).strftime(fmt) if value is not None else ""


def iso_kst(value: datetime | None) -> str | None:
    """ISO 8601 in Korea time with its offset, e.g. ``2026-11-21T19:48:16+09:00``."""
    return value.astimezone(KST).isoformat(timespec="seconds") if value is not None else None


def emotion_name(label: str | None) -> str:
    """Korean name of an emotion label (the label itself when unknown)."""
    return EMOTION_NAMES_KO.get(label or "", label or "")


def risk_name(level: str | None) -> str:
    """Korean name of a risk level."""
    return RISK_NAMES_KO.get(level or "", level or "")


def category_name(category: str | None) -> str:
    """Korean name of a risk category (the category itself when unknown)."""
    return CATEGORY_NAMES_KO.get(category or "", category or "")


#: Why the generating responder (kogpt2) was not used for a turn; see pipeline/backends/kogpt2.py.
FALLBACK_NAMES_KO = {
    "high_risk": "위험 신호가 있어 위기 안내 답을 썼어요",
    "no_text": "알아들은 말이 없었어요",
    "error": "생성 모델에 오류가 났어요",
    "timeout": "생성 모델이 제한 시간을 넘겼어요",
    "rejected": "생성한 답이 안전 검사를 통과하지 못했어요",
    "safety_net": "답을 고르는 모델에 문제가 생겨 미리 정해 둔 안전한 답을 보냈어요",
}

#: Korean names of the stages a turn can record as degraded (``Turn.degraded``).
DEGRADED_NAMES_KO = {"classify": "감정 인식 (중립으로 기록)", "respond": "답 고르기", "synthesize": "답 음성"}


def fallback_name(reason: str | None) -> str:
    """Korean explanation of a turn's generator fallback, its detail kept (empty when there was none)."""
    if not reason:
        return ""
    kind, _, detail = reason.partition(":")
    name = FALLBACK_NAMES_KO.get(kind.strip(), reason)
    return f"{name} ({detail.strip()})" if detail.strip() and name != reason else name


def degraded_names(stages: list[str] | None) -> str:
    """Korean list of the stages that failed on a turn and were replaced by a fallback."""
    return ", ".join(DEGRADED_NAMES_KO.get(stage, stage) for stage in stages or ())


def register(app: Flask) -> None:
    """Make the helpers available to every template."""
    app.jinja_env.filters["kst"] = format_kst
    app.jinja_env.filters["emotion_name"] = emotion_name
    app.jinja_env.filters["risk_name"] = risk_name
    app.jinja_env.filters["category_name"] = category_name
    app.jinja_env.filters["fallback_name"] = fallback_name
    app.jinja_env.filters["degraded_names"] = degraded_names
    app.jinja_env.filters["category_name"] = lambda c: CATEGORY_NAMES_KO.get(c, c)
    app.jinja_env.globals.update(
        EMOTION_LABELS=EMOTION_LABELS,
        RISK_LEVELS=RISK_LEVELS,
        INPUT_KIND_NAMES_KO=INPUT_KIND_NAMES_KO,
    )
