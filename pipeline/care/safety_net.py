"""The reply of last resort: fixed Korean text that needs no model, file or database.

When the responder cannot load or fails on a turn, ``Pipeline`` answers with
``safety_net_reply(risk)`` so that no client is left without words. A high-risk turn gets the
crisis numbers (자살예방상담전화 109, 정신건강위기상담 1577-0199, 112, 119, 1388, 1366); every
other turn gets a short invitation to keep talking. ``HOTLINES_NOTE`` is the same numbers as one
sentence, added to errors a client in crisis may see.
"""

from __future__ import annotations

from pipeline.types import Reply, Risk

#: Why a reply came from here, as ``Reply.fallback_reason`` (kept on the stored turn).
SAFETY_NET_REASON = "safety_net"

#: One sentence with every crisis line, for error messages that a client in crisis may read.
HOTLINES_NOTE = (
    "급한 도움이 필요하면 자살예방상담전화 109, 정신건강위기상담 1577-0199, "
    "위급할 때는 112나 119, 청소년은 1388, 여성·폭력 피해는 1366으로 연락해 주세요."
)

_CRISIS = (
    "지금 많이 힘드시다는 말, 잘 들었어요. 당신의 안전이 가장 중요해요. "
    "지금 바로 사람과 이야기해 주세요: 자살예방상담전화 109, 정신건강위기상담 1577-0199에 언제든 전화할 수 있어요. "
    "위험이 가까이 있다면 112나 119로 바로 연락해 주세요. 청소년은 1388, 여성·폭력 피해는 1366에서도 도와줘요. "
    "곁에 있는 사람에게 지금 알리는 것도 좋아요. 저는 AI 마음이고, 상담 선생님이 이 대화를 보게 될 거예요."
)
_WATCH = (
    "이야기해 주셔서 고마워요. 마음이 많이 무거우신 것 같아요. 조금 더 들려주시겠어요? "
    "혼자 견디기 힘들 때는 자살예방상담전화 109에서 언제든 사람이 이야기를 들어 줘요."
)
_LISTEN = "이야기해 주셔서 고마워요. 제가 여기서 듣고 있을게요. 조금 더 들려주시겠어요?"


def safety_net_reply(risk: Risk) -> Reply:
    """A fixed reply for ``risk``: the crisis numbers when it is high, an invitation otherwise.

    Args:
        risk: what ``assess_risk`` found in the client's words.

    Returns:
        A ``crisis`` reply with every crisis line for high risk, else a ``listen`` reply (with 109
        for ``watch``); ``fallback_reason`` is ``safety_net``.
    """
    if risk.level == "high":
        return Reply(text=_CRISIS, kind="crisis", reply_id="safety-net-crisis", fallback_reason=SAFETY_NET_REASON)
    text = _WATCH if risk.level == "watch" else _LISTEN
    return Reply(text=text, kind="listen", reply_id=f"safety-net-{risk.level}", fallback_reason=SAFETY_NET_REASON)
