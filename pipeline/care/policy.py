"""One care turn: crisis reply, direct answer, screening question, or a grounded responder reply.

The conversation's risk comes first; a responder reply is checked against what the client said.

Order of decisions (``care_turn``):

1. ``observe`` the turn in the light of the conversation (``conversation.py``);
2. the turn is ``high`` in context → the crisis reply for its situation (``crisis.py``), whatever
   the responder would say;
3. a direct question (사람이랑 얘기할 수 있어요?, 이거 녹음돼요?, 너 누구야, 병원에 가 봐야 할까요?,
   어떻게 해야 할까요?) → an honest, safe answer with the offer of a human counsellor;
4. a screening question is due → one gentle question (``screening.py``), nothing else;
5. otherwise the responder's reply, *grounded*: a reply that claims what the client did not say
   (a death or a leaving nobody mentioned, "별일 없이" after "힘들었어요", praise for a revenge
   plan, a person the client never named) is replaced by one that reflects the client's own
   words; a reply that ignores a loss or harm told in this very turn (a death answered as a
   visit) is replaced by one that acknowledges it; a reply that asserts a feeling the client did
   not show (joy after "요즘 회사 일이 너무 많아요") is replaced the same way, and a happy
   emotion label on a complaint is spoken to as neutral (``reply_emotion``); and a loss told
   earlier is referred back to when the conversation goes on in pain ("아버지께서 돌아가셨다고 하셨죠.").
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.care.conversation import OTHERS_REASON, CareState, observe
from pipeline.care.crisis import crisis_reply, lead_situation, numbers_for, shipped, watch_note
from pipeline.care.facts import EVENTS, Fact, facts_in, people_in
from pipeline.care.screening import QUESTIONS
from pipeline.text.morphology import cached_per_analyser, shared_kiwi
from pipeline.types import Emotion, HistoryTurn, Reply, Risk

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

Respond = Callable[[str, Emotion, Risk, Sequence[HistoryTurn]], Reply]

NEGATIVE = frozenset({"sadness", "fear", "anger", "disgust"})
#: Categories whose watch notes the reply bank has (``replies.json`` ``watch_notes``).
BANK_NOTE_CATEGORIES = frozenset({"suicide", "self_harm", "harm_to_others", "abuse"})

#: Direct questions, in the order they are recognised, and Maum's honest answers.
DIRECT_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "human",
        re.compile(
            r"사람(이랑|하고|과|한테|와)\s*(얘기|이야기|대화|상담|통화|연결)|"
            r"상담(사|원|선생님)(님)?(이랑|랑|하고|과|와|한테|에게)?\s*(직접\s*)?(얘기|이야기|연결|통화|상담|대화)|"
            r"진짜\s*사람(이랑|하고|과)|사람\s*(바꿔|연결)"
        ),
    ),
    (
        "hotline",
        re.compile(
            r"(상담|자살|위기|예방|도움|신고|긴급|생명의\s*전화)\S*\s*(전화\s*)?번호|"
            r"(어디|누구)(에|한테|에게)?\s*(전화|연락)(해야|하면|할\s*수)|전화할\s*(곳|데)"
        ),
    ),
    (
        "recording",
        re.compile(
            r"녹음(돼|되|하|해|중)|저장(돼|되|하|해)|기록(이|돼|되|남)|누가\s*(봐|보|들어|읽)|비밀\s*(보장|지켜)"
        ),
    ),
    (
        "identity",
        re.compile(
            r"너\s*누구|누구(야|세요|예요|에요|니|냐)\b|(ai|에이아이|로봇|인공지능|챗봇|기계)(야|이야|예요|이에요|인가요|니|냐|지)|"
            r"사람(이야|이에요|인가요|이세요|이니|이냐)",
            re.I,
        ),
    ),
    (
        "hospital",
        re.compile(
            r"병원(에|엘)?\s*(가|가야|가\s*봐야|가봐야)|(정신과|상담)\S*\s*(받아야|가\s*봐야|가야)|진료\s*받아야"
        ),
    ),
    ("what_to_do", re.compile(r"어떻게\s*(해야|하면|하죠|할까|하지)|어떡(해|하|하죠|할까)|뭘\s*해야|무엇을\s*해야")),
)
ANSWERS: dict[str, str] = {
    "human": (
        "네, 사람과 이야기할 수 있어요. 저는 AI 마음이고, 이 대화는 이 기관의 상담 선생님이 함께 보고 있어요. "
        "사람과 이야기하고 싶다는 마음을 이 대화에 남겨 둘게요. 지금 바로 사람 목소리가 필요하면 "
        "정신건강위기상담 1577-0199나 자살예방상담전화 109에 24시간 전화할 수 있어요."
    ),
    "hotline": (
        "도움받을 수 있는 전화번호를 알려 드릴게요. 자살예방상담전화 109와 정신건강위기상담전화 1577-0199는 "
        "24시간 전화를 받아요. 지금 위험한 상황이라면 112나 119에 바로 전화해 주세요. 폭력 피해는 "
        "여성긴급전화 1366, 청소년은 청소년상담전화 1388에서도 도와줘요. 이 대화를 보는 상담 선생님과 "
        "이야기하고 싶으시면 그렇게 말씀해 주세요."
    ),
    "recording": (
        "솔직하게 말씀드릴게요. 여기서 나눈 이야기는 글로 저장되고, 말로 하셨다면 목소리 녹음도 함께 저장돼요. "
        "이 기관의 상담 선생님이 당신을 돕기 위해 볼 수 있어요. 얼마나 보관되는지, 지워 달라고 할 수 있는지는 "
        "상담 선생님께 직접 여쭤보셔도 돼요. 저는 AI 마음이에요. 그래도 괜찮다면 편하게 이야기해 주세요."
    ),
    "identity": (
        "저는 마음이라는 AI예요. 사람도, 상담사나 의사도 아니지만 당신의 이야기를 귀 기울여 들을 수 있어요. "
        "사람과 이야기하고 싶을 땐 이 대화를 보는 상담 선생님이 있고, 109나 1577-0199에 전화할 수도 있어요."
    ),
    "hospital": (
        "저는 AI라서 진단은 할 수 없어요. 다만 걱정될 만큼 몸이나 마음이 힘들다면, "
        "병원이나 전문가에게 확인받아 보는 건 좋은 선택이에요. "
        "마음이 힘든 거라면 정신건강의학과나 가까운 정신건강복지센터에서 상담받을 수 있어요. "
        "지금 몹시 아프거나 위험하다면 119에 바로 연락해 주세요. 상담 선생님과 먼저 이야기해 보고 싶으세요?"
    ),
    "what_to_do": (
        "제가 정답을 드릴 수는 없지만, 함께 정리해 볼 수는 있어요. 지금 가장 먼저 달라졌으면 하는 게 무엇인지부터 "
        "이야기해 볼까요? 사람 상담 선생님과 같이 고민하고 싶으시면 그것도 도와 드릴게요."
    ),
}
#: After "오늘 많이 힘들었어요" … "그래서 아까 먹었어요": ask what, with the emergency line.
ASK_WHAT_TAKEN = (
    "말해 줘서 고마워요. 혹시 무엇을 드셨는지 여쭤봐도 될까요? "
    "약을 한꺼번에 많이 드셨다면 지금 바로 119에 전화해 주세요. 저는 AI 마음이고, 상담 선생님도 함께 볼 수 있어요."
)
#: Someone else's risk told now ("친구가 죽고 싶대요"): how the client can help, with the lines.
OTHERS_NOTE = (
    "그 사람이 걱정되시겠어요. 혼자 감당하지 않으셔도 돼요. 자살예방상담전화 109에서는 곁에 있는 사람을 "
    "어떻게 도울지도 함께 이야기해 줘요. 지금 위험해 보이면 112나 119에 알려 주세요."
)
_AT_RISK_NOTE = "혼자 감당하기 어려우면 자살예방상담전화 109나 정신건강위기상담 1577-0199에 언제든 전화할 수 있어요."


def lines_note(categories: Sequence[str]) -> str:
    """One sentence with the first two lines of the conversation's lead situation (109 for suicide)."""
    if lead_situation(categories) in ("suicide", "self_harm"):
        return _AT_RISK_NOTE
    data = shipped()
    lines = [data.lines[n] for n in numbers_for(categories, data)[:2]]
    named = " 또는 ".join(line.name if line.number in line.name else f"{line.name} {line.number}" for line in lines)
    return f"도움이 필요하면 {named}에 언제든 연락할 수 있어요."


# Claims a reply may make only when the client's words support them.
_DEATH_OR_LEAVING_CLAIM = re.compile(
    r"떠나(셨|신|보내)|떠났|돌아가(셨|신)|잃(으셨|으신|은)|세상을\s*떠|이별|하늘나라|보내\s*드리|빈자리"
)
_DEATH_OR_LEAVING_SAID = re.compile(
    r"돌아가|세상을\s*떠|하늘나라|죽었|숨졌|장례|별세|사망|떠났|떠나|헤어지|헤어졌|이별|이혼|잃었|잃어|나갔|보냈"
)
_CALM_CLAIM = re.compile(
    r"별일\s*없|그저\s*그러|평온|무난|편안한\s*하루|잔잔|괜찮은\s*하루|좋은\s*하루|즐거우|즐거운|홀가분"
)
_HARD_SAID = re.compile(
    r"힘들|힘든|지치|지쳤|괴롭|속상|우울|슬퍼|슬프|무서|불안|화가|화나|짜증|외로|버겁|죽겠|아파|아프|서러|답답|막막|눈물|울었|"
    r"못\s*자|잠이\s*안|안\s*넘어가|못\s*먹|싸워|싸웠|보고\s*싶"
)
_HAPPY_CLAIM = re.compile(r"축하|기쁜\s*소식|기쁘시|다행이에요|다행이네|좋은\s*일이|신나")
_HAPPY_SAID = re.compile(r"기뻐|기쁘|좋아|행복|신나|합격|붙었|다행|축하|설레")
# Feelings a reply may assert only when the client showed them: a positive feeling after a complaint.
_POSITIVE_CLAIM = re.compile(r"즐겁|즐거|기쁘|기뻐|기쁜|반가운|신나|신난|행복하|설레|뿌듯|축하|다행|좋으시|좋으셨")
_POSITIVE_SAID = re.compile(
    r"기뻐|기쁘|좋아|좋았|좋은|좋네|행복|신나|신났|합격|붙었|다행|축하|설레|즐겁|즐거|재밌|재미있|뿌듯|고마|감사|최고|"
    r"나아|나아졌|괜찮아졌|편해|반가|웃었|웃겨|ㅋㅋ|ㅎㅎ"
)
_COMPLAINT_SAID = re.compile(
    r"너무\s*많|너무\s*바쁘|너무\s*바빠|바빠서|바빴|야근|마감|녹초|피곤|못\s*먹|겹쳤|겹쳐|밀려|쌓여|과로|스트레스|"
    r"미치겠|미치는|죽겠|빡치|빡쳐|열받|짜증|망했|벅차|벅찬|시달|잔소리|싫어|싫다|싫고|귀찮|지겨|지긋지긋|때려치|그만두고\s*싶"
)
_PRAISE_CLAIM = re.compile(r"대단|멋지|멋있|잘하셨|잘\s*하셨|좋은\s*생각|훌륭|응원|기대돼|든든|용기\s*있")
_HARM_SAID = re.compile(r"갚아|복수|되갚|가만\s*안|죽여|죽일|때려\s*줄|패\s*줄|혼내\s*줄|찾아가서|해치")
# A reply's claims about the client: its first sentence when it ends like "…셨군요" (you did X),
# and any clause reported with -다니/-라니 ("성적이 올랐다니"). Their nouns and action verbs must
# come from the client's own words; feelings (adjectives) are a counsellor's guess and may differ.
_CLAIM_ENDINGS = frozenset({"군요", "는군요", "네요", "는구나", "구나", "구요"})
_REPORTED = frozenset({"다니", "라니"})
_GENERIC_NOUNS = frozenset(
    "마음 하루 일 생각 시간 이야기 얘기 말 사람 것 거 수 때 오늘 요즘 지금 날 기분 감정 하나 무엇 뭐 자신 당신 "
    "그동안 동안 정도 앞 뒤 속 몸 상황 순간 모두 누구 부분 경우 혼자 사이 곁 자리 편 중 만큼 듯 이번 주 다음 처음 "
    "최근 그때 이런저런 여러 나름 하루하루 매일 순간순간 결실 노력 용기 고민 걱정 스트레스 힘".split()
)
_GENERIC_VERBS = frozenset(
    "하 되 있 없 보 오 가 들 주 받 알 모르 느끼 생각하 지내 보내 겪 견디 버티 살 말하 듣 같 그렇 이렇 어떻 싶 "
    "나 들리 쌓이 남 계시 드리 애쓰 참 털어놓 꺼내 이야기하 얘기하 지나 맞 들어주 전하 바라 원하 "
    "필요하 힘들 지치".split()
)


@cached_per_analyser(maxsize=256)
def _lemmas(kiwi: Kiwi, text: str) -> tuple[tuple[str, str], ...]:
    return tuple((t.form, t.tag) for t in kiwi.tokenize(text))


def warm_up(kiwi: Kiwi | None = None) -> None:
    """Build Kiwi (``shared_kiwi()`` when None) and run its first analysis (seconds) now, not during a client's turn."""
    _lemmas(kiwi if kiwi is not None else shared_kiwi(), "회사에서 팀장님 때문에 힘들었어요")


def unsaid_in_claims(reply_text: str, client_texts: Sequence[str], kiwi: Kiwi | None = None) -> list[str]:
    """Nouns and action verbs the reply claims about the client that the client never used.

    Args:
        reply_text: the candidate reply.
        client_texts: everything the client said in the conversation.
        kiwi: the analyser (``Pipeline.kiwi`` in the app); ``shared_kiwi()`` when None.
    """
    kiwi = kiwi if kiwi is not None else shared_kiwi()
    tokens = _lemmas(kiwi, reply_text)
    claims: list[list[tuple[str, str]]] = []
    first_end = next((i for i, (_, tag) in enumerate(tokens) if tag == "EF" or tag.startswith("SF")), len(tokens))
    first = tokens[: first_end + 1]
    if any(form in _CLAIM_ENDINGS for form, tag in first if tag == "EF") and any(
        (form == "시" and tag == "EP") or (form == "계시" and tag in ("VV", "VX")) for form, tag in first
    ):
        claims.append(list(first))
    start = 0
    for i, (form, tag) in enumerate(tokens):
        if tag in ("SF", "SP", "EF") or tag.startswith("EC") and form not in _REPORTED:
            start = i + 1
        elif form in _REPORTED and tag.startswith("E"):
            claims.append(list(tokens[start : i + 1]))
            start = i + 1
    said = " ".join(client_texts)
    known = {form for text in client_texts for form, _ in _lemmas(kiwi, text)}
    unsaid = []
    for clause in claims:
        for form, tag in clause:
            content = (tag in ("NNG", "NNP") and form not in _GENERIC_NOUNS) or (
                tag == "VV" and form not in _GENERIC_VERBS
            )
            if content and form not in known and form not in said and form not in unsaid:
                unsaid.append(form)
    return unsaid


#: How often a fact may be referred back to: not if one of the last this-many replies did (never twice in a row).
REFERENCE_GAP = 1
#: How many times in a conversation one fact may be referred back to.
REFERENCE_MAX = 3


@dataclass(frozen=True)
class CareTurn:
    """What one care turn produced.

    Attributes:
        reply: what Maum says.
        risk: the turn's risk in the context of the conversation.
        state: the conversation's state after this turn (with any question asked or crisis reply given).
        grounded: why the responder's reply was replaced, or "" when it was kept.
    """

    reply: Reply
    risk: Risk
    state: CareState
    grounded: str = ""


def reply_emotion(text: str, emotion: Emotion) -> Emotion:
    """The emotion the reply may speak to: ``happiness`` only where the client's words show it.

    The emotion head reads "요즘 회사 일이 너무 많아요" as happiness; a reply chosen for happiness
    would then tell the client they enjoy their work. A happy label on a turn with complaint or
    hardship words and no positive word is spoken to as ``neutral`` (the turn keeps its label).
    """
    if emotion.label != "happiness" or _POSITIVE_SAID.search(text):
        return emotion
    if _COMPLAINT_SAID.search(text) or _HARD_SAID.search(text):
        return dataclasses.replace(emotion, label="neutral")
    return emotion


def direct_question(text: str) -> str:
    """The kind of direct question ``text`` asks (a key of ``ANSWERS``), or ""."""
    if len(text) > 120:
        return ""
    for name, pattern in DIRECT_QUESTIONS:
        if pattern.search(text):
            return name
    return ""


def direct_questions_removed(text: str) -> str:
    """``text`` without its direct-question phrases and spaces (what is left is the situation)."""
    for _, pattern in DIRECT_QUESTIONS:
        text = pattern.sub("", text)
    return re.sub(r"[\s?!.~]+", "", text)


def unsupported_claim(
    reply_text: str, text: str, said_before: Sequence[str], facts: Sequence[Fact], kiwi: Kiwi | None = None
) -> str:
    """Why ``reply_text`` says something the client's words do not support, or "" when it does not.

    Args:
        reply_text: the candidate reply.
        text: the client's current turn.
        said_before: the client's earlier turns.
        facts: the facts the conversation holds.
        kiwi: the analyser for ``unsaid_in_claims``; ``shared_kiwi()`` when None.
    """
    everything = " ".join((*said_before, text))
    if _DEATH_OR_LEAVING_CLAIM.search(reply_text):
        told = any(f.event in ("died", "left") for f in facts) or _DEATH_OR_LEAVING_SAID.search(everything)
        if not told:
            return "death_or_leaving"
    hard = bool(_HARD_SAID.search(text)) or any(EVENTS[f.event].major for f in facts_in(text))
    if hard and _CALM_CLAIM.search(reply_text):
        return "calm_after_hard"
    if hard and _HAPPY_CLAIM.search(reply_text) and not _HAPPY_SAID.search(text):
        return "happy_after_hard"
    complaint = hard or bool(_COMPLAINT_SAID.search(text))
    if complaint and _POSITIVE_CLAIM.search(reply_text) and not _POSITIVE_SAID.search(text):
        return "feeling_not_said"
    if _HARM_SAID.search(text) and _PRAISE_CLAIM.search(reply_text):
        return "praise_of_harm"
    named = people_in(everything)
    invented = people_in(reply_text) - named
    if invented:
        return "person_not_named: " + ", ".join(sorted(invented))
    unsaid = unsaid_in_claims(reply_text, (*said_before, text), kiwi)
    if unsaid:
        return "claim_not_said: " + ", ".join(unsaid)
    return ""


# The client's own sentence said back politely (힘들었어요 → 힘드셨군요), when it has no "I" in it.
_POLITE_ENDINGS = (
    ("힘들었어요", "힘드셨군요"),
    ("힘들어요", "힘드시군요"),
    ("지쳤어요", "지치셨군요"),
    ("지쳐요", "지치시는군요"),
    ("속상했어요", "속상하셨군요"),
    ("속상해요", "속상하시군요"),
    ("우울해요", "우울하시군요"),
    ("무서워요", "무서우시군요"),
    ("슬퍼요", "슬프시군요"),
    ("외로워요", "외로우시군요"),
    ("괴로워요", "괴로우시군요"),
    ("답답해요", "답답하시군요"),
    ("불안해요", "불안하시군요"),
    ("싸워요", "다투시는군요"),
)
_FIRST_PERSON = re.compile(r"(^|\s)(저|제가|저는|저도|제|나|내가|나는|난|내|우리|저희)(\s|$)")


def _said_back(text: str) -> str:
    """The client's sentence in Maum's polite voice ("…힘드셨군요."), or "" when no rule fits."""
    sentence = text.strip().rstrip(".!?~ ")
    if _FIRST_PERSON.search(sentence):
        return ""
    for ending, polite in _POLITE_ENDINGS:
        if sentence.endswith(ending):
            return sentence[: -len(ending)] + polite + "."
    return ""


def _own_words(text: str, emotion: Emotion, told: Sequence[Fact] = ()) -> str:
    """A reply built only from what the client said: their event, their sentence, or a quote; then a question."""
    if told:
        return f"{told[0].acknowledgement()} 지금 마음은 어떠세요? 편하게 이야기해 주세요."
    said = _said_back(text)
    if said:
        return f"{said} 그 일에 대해 조금 더 들려주실래요? 그때 마음은 어떠셨어요?"
    quote = text.strip().rstrip(".!?~")
    if len(quote) > 40:
        quote = quote[:40].rstrip() + "…"
    feeling = "많이 힘드셨겠어요. " if emotion.label in NEGATIVE or _HARD_SAID.search(text) else ""
    return f"“{quote}”라고 말씀해 주셨네요. {feeling}그 일에 대해 조금 더 들려주실래요? 그때 마음은 어떠셨어요?"


def _reference(state: CareState, text: str, emotion: Emotion, history: Sequence[HistoryTurn]) -> str:
    """A sentence referring back to a loss or harm told in an earlier turn, or ""."""
    turn = state.turns - 1
    earlier = [f for f in state.facts if f.turn < turn and EVENTS[f.event].major]
    if not earlier or not (emotion.label in NEGATIVE or _HARD_SAID.search(text)):
        return ""
    fact = earlier[-1]
    if fact.who and fact.who in people_in(text):
        return ""  # the client is talking about them now; the reply follows the turn itself
    sentence = fact.reference()
    recent = " ".join(t.reply_text for t in history[-REFERENCE_GAP:])
    if any(f.reference() in recent for f in state.facts):
        return ""
    if sum(sentence in t.reply_text for t in history) >= REFERENCE_MAX:
        return ""
    return sentence


#: Situations whose watch note is a support line rather than a crisis line.
SUPPORT_NOTES = ("caregiver",)
_SENTENCE = re.compile(r"[^.?!]+[.?!]?\s*")


def without_lines(text: str) -> str:
    """``text`` without its sentences that give a crisis line's number (the text itself if all do)."""
    numbers = {n for c in shipped().numbers.values() for n in c}
    kept = [s for s in _SENTENCE.findall(text) if not any(n in s for n in numbers)]
    return "".join(kept).strip() or text


def care_turn(
    text: str,
    emotion: Emotion,
    turn_risk: Risk,
    state: CareState,
    history: Sequence[HistoryTurn],
    respond: Respond,
    kiwi: Kiwi | None = None,
) -> CareTurn:
    """Answer one client turn with the conversation in mind (see the module docstring).

    Args:
        text: the client's turn (may be empty when nothing was heard).
        emotion: its emotion.
        turn_risk: the risk detector's reading of ``text`` alone.
        state: the conversation before this turn.
        history: the earlier turns, as the responder sees them.
        respond: the responder's ``respond``.
        kiwi: the analyser that checks the reply against the client's words (``Pipeline.kiwi`` in
            the app); ``pipeline.text.morphology.shared_kiwi()`` when None (scripts, tests).
    """
    seen = observe(state, text, turn_risk, history[-1].user_text if history else "")
    new, risk = seen.state, seen.risk
    turn = new.turns - 1
    used = {t.reply_id for t in history if t.reply_id}
    if risk.level == "high":
        return CareTurn(crisis_reply(risk.categories, used), risk, new.with_crisis(turn))
    if not text.strip():
        return CareTurn(respond(text, emotion, risk, history), risk, new)

    asked = direct_question(text)
    if asked:
        answer = ANSWERS[asked]
        if asked == "what_to_do" and len(direct_questions_removed(text)) >= 8:
            answer = f"그 일로 고민이 많으시군요. {answer}"  # the question came with its situation
        note = lines_note(new.categories) if new.level != "none" and not seen.fading else ""
        if note and not any(n in answer for n in numbers_for(new.categories)[:1]):
            answer = f"{answer} {note}"
        return CareTurn(Reply(answer, "answer", f"answer-{asked}"), risk, new)

    if "took_after_distress" in seen.notes:
        return CareTurn(Reply(ASK_WHAT_TAKEN, "empathy", "ask-what-taken"), risk, new)

    answered = seen.screening_answer
    unclear = answered is not None and answered.answer == "unclear"
    key = "" if unclear else new.next_screening_question()  # after an unclear answer, listen first
    if key:
        opener = "" if new.screening else "많이 지치고 힘드신 게 느껴져요. "
        # While the conversation is high, the lines stay one tap away under the question too.
        lines = f" {lines_note(new.categories)}" if new.sticky_level == "high" else ""
        reply = Reply(f"{opener}{QUESTIONS[key]}{lines}", "screening", f"screening-{key}")
        return CareTurn(reply, risk, new.ask(key, turn))

    # While the conversation is high, a calm turn still gets a line that keeps the numbers in view.
    # A weak signal that will fade gets no lines (a safe conversation never shows crisis numbers).
    in_view = Risk("none") if seen.fading else risk
    if new.sticky_level == "high":  # the conversation's own situation decides which lines stay in view
        in_view = Risk("watch", in_view.reasons, new.categories)
    # Watch-level situations the reply bank has no note for (caregiver exhaustion, school
    # violence, …) get the note of their own line here instead of the bank's suicide line. The
    # dementia care line is support, not a crisis line: it stays while a caregiver signal fades.
    if seen.fading and set(SUPPORT_NOTES) & set(new.categories):
        in_view = Risk("watch", in_view.reasons, tuple(c for c in new.categories if c in SUPPORT_NOTES))
    note = watch_note(in_view.categories) if in_view.level == "watch" else ""
    if note and not BANK_NOTE_CATEGORIES & set(in_view.categories):
        in_view = Risk("none")
    else:
        note = ""
    reply = respond(text, reply_emotion(text, emotion), in_view, history)
    if reply.kind == "crisis":  # a responder that has its own crisis path: keep the numbers
        return CareTurn(reply, risk, new)
    if in_view.level == "none":
        # A calm conversation hears no crisis line (a bank reply written for harassment says 1366).
        reply = dataclasses.replace(reply, text=without_lines(reply.text))
    said_before = [t.user_text for t in history]
    why = unsupported_claim(reply.text, text, said_before, new.facts, kiwi)
    told = [f for f in new.facts if f.turn == turn and f.acknowledgement()]
    if not why:
        ignored = [f for f in told if EVENTS[f.event].major and not f.fits(reply.text)]
        why = f"ignores {ignored[0].event}" if ignored else ""
    if why:
        text_ = _own_words(text, emotion, told)
        reply = dataclasses.replace(reply, text=text_, kind="listen", reply_id="grounded-own-words")
    reference = _reference(new, text, emotion, history)
    if reference and reference not in reply.text:
        reply = dataclasses.replace(reply, text=f"{reference} {reply.text}")
    if OTHERS_REASON in risk.reasons:
        # The bank's watch line speaks to the client's own risk; this one is about someone else's.
        reply = dataclasses.replace(reply, text=f"{without_lines(reply.text)} {OTHERS_NOTE}")
    if note and note not in reply.text:
        reply = dataclasses.replace(reply, text=f"{reply.text} {note}")
    if new.sticky_level == "high" and not any(n in reply.text for n in numbers_for(new.categories)[:2]):
        # A grounded or bank reply without the situation's lines: they stay one tap away while high.
        reply = dataclasses.replace(reply, text=f"{reply.text} {lines_note(new.categories)}")
    if answered is not None and not unclear:
        reply = dataclasses.replace(reply, text=f"솔직하게 답해 주셔서 고마워요. {reply.text}")
    return CareTurn(reply, risk, new, why)
