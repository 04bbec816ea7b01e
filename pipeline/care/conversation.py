"""Risk as a property of the whole conversation: sticky, escalating, carried by context.

``observe(state, text, turn_risk)`` reads one client turn together with what the conversation
already holds and returns the new ``CareState`` and the turn's risk *in context*:

* **sticky for real risk, decay for weak signals**: every flagged turn leaves a ``Mark``. A mark
  is *sticky* when the risk is real: a ``high`` turn, a risk-relevant cue (hopelessness, being a
  burden, a wish to be dead), a context rule, a screening answer, a rule-backed watch, or a
  classifier's watch that the conversation confirms (it already holds that kind of risk, or a
  suicide-type cue). Once ``high``, the conversation stays ``high`` (its categories and reasons
  stay, so the crisis lines stay in view). A classifier-only watch with no context is *transient*:
  it holds the level for its own turn and the next and fades on the second calm turn
  (``FADE_TURNS``), and starts no screening. A classifier-only suicide-type ``high`` as the very
  first sign gets its crisis reply, starts the screening questions and leaves a *provisional*
  lasting watch: a no to the wish to be dead or to thoughts of suicide settles it, unclear answers
  keep it. A suicide-type rule watch with no cue and no context
  (an intensifier idiom such as "회사 때문에 죽겠어요") raises nothing on its own; nor does a
  no to a screening question that repeats the question's words ("아니요 죽고 싶다거나 그런 건
  전혀 없어요");
* **escalation**: suicide-type signals of several kinds over the turns (hopelessness and being
  a burden where the risk detector flagged the turn with a rule or with context, a passive wish
  to be dead and farewell acts by their own cues) count together; sadness or stress alone is no
  step: one hopeless or burden turn is ``watch`` and starts the
  screening questions; three kinds, or a farewell act after any other signal, make it ``high``;
  a passive wish to be dead is ``high`` by itself; a farewell act alone raises nothing;
* **minimising** after ideation ("아니 죽겠다는 건 아니고요") keeps the turn and the
  conversation at least at ``watch``;
* **context**: after violence by a partner or family member, fear of what they will do ("헤어지자고
  하면 무슨 일이 생길지 무서워요") is ``high`` ``abuse``; after school violence, fear of school is
  ``high`` ``school_violence``; after ideation, a turn about being ready or saying goodbye is ``high``;
  a revenge plan ("갚아 줄 거예요 … 방법도 생각해 놨어요") is ``high`` ``harm_to_others``;
* **safety nets** for a few situations the per-turn detector may not name yet: a medical
  emergency now (a 40-degree fever, not breathing, chest pain) is ``high`` ``medical``; being on a
  bridge or roof now is ``high`` ``suicide`` + ``imminent``; thoughts of hurting a baby are
  ``high`` ``child_at_risk``;
* **screening**: asked only after a risk-relevant cue or a crisis reply (never on a weak or
  faded signal); the answer to a pending screening question is parsed (``screening.py``) and
  stored; a yes to intent, plan or recent behaviour makes the conversation ``high``;
* **carried over**: a conversation started with "새 대화" begins from the earlier one's sticky
  marks, categories, cues, facts and screening answers (``carried_over``), so pressing the
  button never resets a person at risk to ``none``;
* **facts**: what the client said happened (``facts.py``) is remembered.

The per-turn ``Risk`` comes from the risk detector (rules today, a hybrid assessor later); this
module depends only on the ``Risk`` type and the shared category vocabulary. ``CareState`` is a
frozen dataclass that round-trips through JSON (``as_json`` / ``from_json``), so the web app can
keep it with the conversation and the command line across lines.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.care import facts as facts_mod
from pipeline.care.assessor import CLASSIFIER_REASON
from pipeline.care.crisis import RISK_CATEGORIES
from pipeline.care.facts import Fact
from pipeline.care.screening import HIGH_IF_YES, QUESTIONS, next_question, parse_answer
from pipeline.types import RISK_LEVELS, Risk

log = logging.getLogger(__name__)

_RANK = {level: i for i, level in enumerate(RISK_LEVELS)}
#: Categories whose signals start the screening questions.
SUICIDE_TYPE = frozenset({"suicide", "self_harm"})
#: Distinct suicide-type signal kinds that make a conversation ``watch`` / ``high``.
WATCH_KINDS, HIGH_KINDS = 2, 3
#: How many screening questions a conversation may hold at most (the six of the screener, and
#: a question whose answer was unclear asked once more).
MAX_SCREENING = len(QUESTIONS) + 2
#: How often one question may be asked (again after an unclear answer).
MAX_ASKS = 2
#: A transient mark holds the level for this many turns, its own included (it fades on the second calm turn).
FADE_TURNS = 2
#: Screening questions whose "no" settles a provisional (classifier-only) watch.
SETTLING_QUESTIONS = frozenset({"wish_dead", "thoughts"})
#: Signal kinds that start the screening questions (a farewell act alone does not).
SCREENING_KINDS = frozenset({"hopeless", "burden", "passive_wish", "ideation", "joked"})
#: Signal kinds that raise nothing alone and count only together with another kind.
COMPANION_KINDS = frozenset({"farewell", "means"})
# Ideation in the client's own words: after such a crisis turn the screening starts at "method".
_EXPLICIT_IDEATION = re.compile(r"죽고\s*싶|자살|목숨을?\s*끊|죽을\s*(거|래|까)|죽어\s*버리|살고\s*싶지\s*않|그만\s*살")

# Conversation cues: what a turn says that counts only together with the rest of the conversation.
# They never lower a level the risk detector gave.
SIGNALS: Mapping[str, re.Pattern[str]] = {
    "hopeless": re.compile(
        r"희망이\s*없|희망도\s*없|의미가\s*없|의미\s*없|미래가\s*(안|없)|나아질\s*것\s*같지|나아지지\s*않|"
        r"아무것도\s*(하기\s*싫|하고\s*싶지)|다\s*끝났|살\s*이유|사는\s*게\s*(무슨|의미|지겹)|버틸\s*힘이\s*없|지쳐서\s*못"
    ),
    "burden": re.compile(
        r"짐이\s*(되|돼|될)|짐만\s*(되|돼)|짐짝|민폐|폐만\s*끼|없는\s*게\s*(낫|나을)|없으면\s*(다들|모두|가족|더)|"
        r"나만\s*없으면|사라져\s*주는\s*게|도움이\s*안\s*되는\s*사람"
    ),
    "passive_wish": re.compile(
        r"눈을?\s*뜨지\s*(않|말)|깨어나지\s*(않|말)|사라지고\s*싶|없어지고\s*싶|태어나지\s*말|영원히\s*잠들|그냥\s*잠들고\s*싶|"
        r"따라가고\s*싶|곁으로\s*가고\s*싶"
    ),
    "means": re.compile(
        r"약을?\s*(좀\s*)?(모아|모았|모으|사\s*모|쌓아)|수면제|번개탄|농약|밧줄|목을?\s*맬|옥상\s*문|비밀번호를?\s*알아"
    ),
    "farewell": re.compile(
        r"마지막\s*(인사|편지|선물)|작별|그동안\s*고마웠|편지를?\s*(써|남겨|남겼)|유서(?!\s*(깊|가\s*깊))|"
        r"(고양이|강아지|애들|아이들|물건|짐)[^.?!]{0,12}(부탁|맡겨|맡길|나눠|정리)|다\s*정리했|정리해\s*뒀|정리하고\s*있"
    ),
}
#: Korean names of the signal kinds, for the counsellor.
SIGNAL_NAMES_KO: Mapping[str, str] = {
    "hopeless": "절망감",
    "burden": "짐이 된다는 생각",
    "passive_wish": "죽음을 바라는 마음",
    "means": "방법·수단",
    "farewell": "작별 행동",
    "ideation": "자살 생각",
    "joked": "농담처럼 말한 죽고 싶은 마음",
}
# A cue told as over ("예전엔 사라지고 싶었는데 요즘은 살 만해요") is not a signal now.
_RESOLVED_PAST = re.compile(
    r"(예전|전에는|전엔|옛날|한때|과거|때는|때엔|땐)[^.?!]*(지금은|요즘은|이제는|이젠|요즘엔|지금|요즘)\s*(은|는)?\s*"
    r"(괜찮|행복|살\s*만|나아|좋아|잘\s*지내)"
)
_MINIMISING = re.compile(
    r"(죽겠다|죽고\s*싶다|죽는다)[^.?!]{0,6}(건|게|는\s*거)\s*아니|그런\s*(뜻|의미|말)은?\s*아니|농담|장난이?에?요|"
    r"별거\s*아니|신경\s*쓰지\s*마|괜찮아요\s*진짜|진짜\s*괜찮|아무\s*일\s*아니|그냥\s*해\s*본\s*말|과장"
)
_FEAR = re.compile(r"무서|두려|겁나|겁이\s*나|무슨\s*일이\s*(생길|일어날)|해코지|보복|찾아올|죽일|가만\s*안\s*둘")
_AFTER_ABUSE = re.compile(r"헤어지|이별|떠나|집을\s*나|신고|도망|말하면|알게\s*되면|들어오|집에\s*가|오늘\s*밤")
_SCHOOL_FEAR = re.compile(r"학교|교실|등교|반\s*애들|걔네|걔들")
# A follow-up that only makes sense with the turn before: something taken, with no object named.
_TOOK = re.compile(r"(아까|방금|조금\s*전에?|그래서|벌써|결국)\s*(다\s*)?(먹었|삼켰|마셨|먹어\s*버렸)")
_WHAT_TAKEN = re.compile(
    r"[가-힣](을|를)\s*(다\s*)?(먹|삼|마)|밥|점심|저녁|아침|라면|간식|커피|빵|과자|치킨|해열제|감기약"
)
_DISTRESS = re.compile(r"힘들|힘든|괴로|죽고|끝내|지쳤|못\s*버티|버틸\s*수|포기|살기\s*싫|그만하")
_READY = re.compile(r"준비\s*(다|됐|했)|다\s*정리|오늘\s*밤|마지막|작별|결심|끝낼|끝내")
# Safety nets for situations the per-turn detector may not name yet (it owns them; a net only raises).
_NETS: tuple[tuple[re.Pattern[str], tuple[str, ...], str], ...] = (
    (
        re.compile(
            r"열이\s*(3[89]|4[0-2])(\.\d)?\s*도|의식이\s*없|숨을?\s*(안|못)\s*쉬|숨이\s*안\s*쉬어|"
            r"가슴이\s*(너무\s*)?(아파|조여|조이)|쓰러져\s*(있|서|움직)|경련을?\s*(해|하|일으)"
        ),
        ("medical",),
        "지금 응급한 몸 상태",
    ),
    (
        re.compile(r"지금\s*(한강\s*)?(한강|다리|옥상|난간|철로|선로|기찻길)\s*(위|에\s*(있|서|왔)|이에요|예요|인데)"),
        ("suicide", "imminent"),
        "지금 위험한 곳에 있음",
    ),
    (
        re.compile(
            r"(아기|아이|애기|애|딸|아들)(를|을)?\s*(던지|던져|때리|때려|해치|해쳐|죽이|죽여|떨어뜨리|떨어뜨려)"
            r"(고\s*싶|\s*버리고\s*싶|\s*버릴까|면\s*어쩌)"
        ),
        ("child_at_risk",),
        "아이를 해칠 것 같은 생각",
    ),
)
_DENIAL = re.compile(
    r"(그런|그럴|이런)\s*(건|거|생각은?|마음은?)\s*(전혀|절대|진짜)?\s*(없어요|없어|없습니다|아니에요|아니고|아닙니다)|"
    r"(전혀|절대)\s*(없어요|없어|없습니다|아니에요|아니고|아닙니다)|(건|거)\s*(아니에요|아니고|아닙니다)|"
    r"(그런|이런)\s*(생각은?|마음은?)\s*(전혀|절대)?\s*안\s*(해|들|했)|(해\s*본|해본|한)\s*적(이|은)?\s*(없|한\s*번도\s*없)"
)
_REVENGE = re.compile(
    r"갚아\s*(줄|주겠|준다)|복수(?!\s*전)|되갚|똑같이\s*(해\s*줄|당하게|갚)|가만\s*안\s*(둘|둬|놔)|찾아가서"
)
_PLAN = re.compile(r"방법|계획|준비|생각해\s*(놨|뒀)|다\s*짜\s*놨|칼|흉기")

# A weak (classifier-only, no context) signal fades at once on a calm turn: a joke, plans,
# something good, thanks. A turn with any cue or readiness is never calm.
_CALM = re.compile(
    r"ㅋㅋ|ㅎㅎ|농담|게임에서|좋아요|좋았|재밌|재미있|설레|신나|기대돼|다행|안심|고마워|고맙|가기로|하기로|놀러|"
    r"여행|맛있|시원하|풀리|풀렸|가벼워"
)
# Someone else's story: fiction, or a third person's past told as past ("제 친구가 대학교 때 … 적이
# 있었어요"), with no first-person subject. Suicide-type words in it are not the client's risk now.
_FICTION = re.compile(
    r"드라마|영화|웹툰|소설|만화|예고|장면|주인공|여주|남주|등장인물|뉴스|기사에서|다큐|다음\s*(회|화)"
)
_THIRD_PERSON = re.compile(
    r"(친구|동생|언니|오빠|누나|형|엄마|아빠|선배|후배|동료|지인|이웃|사촌|삼촌|이모|고모|여주|남주|주인공|배우|연예인)"
    r"(가|이|는|은|도)(?![가-힣])"
)
_FIRST_PERSON = re.compile(r"(?<![가-힣])(제가|내가|저도|나도|저는|나는|저만|나만|저|나)(?![가-힣])")
_PAST_STORY = re.compile(
    r"적이?\s*있|예전에|옛날에|몇\s*(년|해|달)\s*전|(대학|대학교|고등학교|중학교|학교|어릴|젊었을|군대|학생)\s*(때|다닐\s*때)|그때"
)
_PRESENT = re.compile(r"오늘|어제|어젯밤|방금|아까|지금(?!은)|요즘(?!은)|이번\s*주|곧|내일|며칠\s*전")
# Someone else's wish to die reported now ("친구가 죽고 싶대요"): a real concern, never an idiom.
_REPORTED = re.compile(r"(싶|하|겠|는|한)\s*(대요|대|래요|다고\s*(했|하더|해요|그러))|(싶다|하겠다|한다|겠다)고")
# "죽고 싶다 ㅋㅋ 농담이에요": explicit words taken back as a joke in the same breath.
_JOKE_AFTER = re.compile(r"농담|장난(이|으로|이에요|이야)|그\s*정도는\s*아니|진심\s*아니")


@dataclass(frozen=True)
class Signal:
    """A suicide-type cue the conversation holds, with the turn it came from."""

    kind: str
    turn: int
    said: str


@dataclass(frozen=True)
class Mark:
    """One flagged turn's part in the conversation's level.

    Attributes:
        turn: the 0-based turn (-1 for a mark carried over from an earlier conversation).
        level: ``watch`` or ``high``.
        categories: its risk categories.
        reasons: what raised it.
        sticky: real risk, kept for the rest of the conversation; otherwise it fades
            (``FADE_TURNS``).
        provisional: a lasting watch that only the classifier raised, as the first sign of
            suicide-type risk; a no to the first screening questions settles it.
    """

    turn: int
    level: str
    categories: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    sticky: bool = True
    provisional: bool = False

    def active(self, turn: int) -> bool:
        """Whether this mark still counts at ``turn``."""
        return self.sticky or turn - self.turn < FADE_TURNS

    def as_json(self) -> dict[str, Any]:
        """The mark as stored in ``conversations.care_state``."""
        return {
            "turn": self.turn,
            "level": self.level,
            "categories": list(self.categories),
            "reasons": list(self.reasons),
            "sticky": self.sticky,
            "provisional": self.provisional,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Mark:
        """A mark read back from a stored care state (a missing level counts as ``high``)."""
        level = str(raw.get("level", "high"))
        return cls(
            turn=int(raw.get("turn", -1)),
            level=level if level in RISK_LEVELS else "high",
            categories=tuple(str(c) for c in raw.get("categories", ())),
            reasons=tuple(str(r) for r in raw.get("reasons", ())),
            sticky=bool(raw.get("sticky", True)),
            provisional=bool(raw.get("provisional", False)),
        )


@dataclass(frozen=True)
class ScreeningItem:
    """One screening question Maum asked, and the client's answer.

    Attributes:
        key: a key of ``screening.QUESTIONS``.
        question: the question as asked.
        turn: the 0-based turn whose reply asked it.
        answer: ``yes``, ``no``, ``unsure``, ``unclear``, or empty while it waits for an answer.
        answer_text: the client's reply, as written.
    """

    key: str
    question: str
    turn: int
    answer: str = ""
    answer_text: str = ""


@dataclass(frozen=True)
class CareState:
    """What Maum holds about one conversation's safety and content.

    Attributes:
        level: the conversation's risk level (never below any level it had: see the module docstring).
        categories: its risk categories, in vocabulary order.
        reasons: what raised it: the client's phrases and the conversation's own findings.
        turns: client turns seen.
        signals: suicide-type cues seen, one per kind (the first time it was said).
        screening: screening questions asked and their answers, in order.
        facts: what the client said happened.
        crisis_turns: the turns that got a crisis reply.
        marks: the flagged turns that make ``level`` (sticky ones, and transient ones still active).
    """

    level: str = "none"
    categories: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    turns: int = 0
    signals: tuple[Signal, ...] = ()
    screening: tuple[ScreeningItem, ...] = ()
    facts: tuple[Fact, ...] = ()
    crisis_turns: tuple[int, ...] = ()
    marks: tuple[Mark, ...] = ()

    def __post_init__(self) -> None:
        if self.level not in RISK_LEVELS:
            raise ValueError(f"unknown risk level {self.level!r}; expected one of {RISK_LEVELS}")

    @property
    def pending(self) -> ScreeningItem | None:
        """The screening question that waits for the client's answer, if any."""
        last = self.screening[-1] if self.screening else None
        return last if last is not None and not last.answer else None

    @property
    def answers(self) -> dict[str, str]:
        """Question key → its clear answer (``yes``, ``no``, ``unsure``); unclear answers are not kept here."""
        return {item.key: item.answer for item in self.screening if item.answer and item.answer != "unclear"}

    def next_screening_question(self) -> str:
        """The screening question due now ("" when none is): see ``screening.py``.

        Screening runs while the conversation shows suicide-type risk: at ``watch``, or after a
        crisis reply for suicide or self-harm.
        """
        if self.pending is not None or len(self.screening) >= MAX_SCREENING:
            return ""
        if self.level == "none" or not SUICIDE_TYPE & set(self.categories):
            return ""
        if self.level == "high" and not self.crisis_turns:
            return ""  # a crisis reply comes first
        if not self.crisis_turns and not SCREENING_KINDS & {s.kind for s in self.signals}:
            return ""  # only a risk-relevant cue warrants the questions, not stress or a weak signal
        ideation = any(s.kind == "ideation" and _EXPLICIT_IDEATION.search(s.said) for s in self.signals)
        answers = self.answers
        while True:
            key = next_question(answers, ideation_known=ideation)
            if not key or sum(item.key == key for item in self.screening) < MAX_ASKS:
                return key
            answers[key] = "unclear"  # asked twice without a clear answer: go on

    def ask(self, key: str, turn: int) -> CareState:
        """The state after Maum asked screening question ``key`` in the reply to ``turn``."""
        return dataclasses.replace(self, screening=(*self.screening, ScreeningItem(key, QUESTIONS[key], turn)))

    def with_crisis(self, turn: int) -> CareState:
        """A copy of the state with ``turn`` added to the turns that got a crisis reply."""
        return dataclasses.replace(self, crisis_turns=(*self.crisis_turns, turn))

    @property
    def sticky_level(self) -> str:
        """The level of the sticky marks alone (what no calm turn takes away)."""
        return max((m.level for m in self.marks if m.sticky), key=_RANK.__getitem__, default="none")

    def carried_over(self) -> CareState:
        """The state a linked conversation ("새 대화") starts from.

        It keeps what must not be lost by starting again: the sticky marks (so the level,
        categories and reasons), the suicide-type cues, the facts, the screening questions that
        were answered, and whether a crisis reply was given; everything as of turn -1.
        """
        marks = tuple(dataclasses.replace(m, turn=-1) for m in self.marks if m.sticky)
        level, categories, reasons = _combine(marks, 0)
        return CareState(
            level=level,
            categories=categories,
            reasons=reasons,
            signals=tuple(dataclasses.replace(s, turn=-1) for s in self.signals),
            screening=tuple(dataclasses.replace(q, turn=-1) for q in self.screening if q.answer),
            facts=tuple(dataclasses.replace(f, turn=-1) for f in self.facts),
            crisis_turns=(-1,) if self.crisis_turns else (),
            marks=marks,
        )

    def as_risk(self) -> Risk:
        """The conversation's risk as a ``Risk`` (level, reasons, categories)."""
        return Risk(level=self.level, reasons=self.reasons, categories=self.categories)

    def as_json(self) -> dict[str, Any]:
        """A plain JSON object (lists, strings, numbers) for storage."""
        return {
            "level": self.level,
            "categories": list(self.categories),
            "reasons": list(self.reasons),
            "turns": self.turns,
            "signals": [dataclasses.asdict(s) for s in self.signals],
            "screening": [dataclasses.asdict(s) for s in self.screening],
            "facts": [f.as_json() for f in self.facts],
            "crisis_turns": list(self.crisis_turns),
            "marks": [m.as_json() for m in self.marks],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> CareState:
        """Rebuild a state from ``as_json`` output; None or an empty object is a new conversation."""
        if not raw:
            return cls()
        level = raw.get("level", "none")
        base = cls(
            level=level if level in RISK_LEVELS else "high",  # an unreadable level errs on the safe side
            categories=tuple(str(c) for c in raw.get("categories", ())),
            reasons=tuple(str(r) for r in raw.get("reasons", ())),
        )
        # A state stored before marks existed: its level was sticky.
        old = (Mark(-1, base.level, base.categories, base.reasons),) if base.level != "none" else ()
        base = dataclasses.replace(base, marks=old)
        try:
            marks = tuple(Mark.from_json(m) for m in raw["marks"]) if "marks" in raw else old
            return dataclasses.replace(
                base,
                marks=marks,
                turns=int(raw.get("turns", 0)),
                signals=tuple(Signal(**s) for s in raw.get("signals", ())),
                screening=tuple(ScreeningItem(**s) for s in raw.get("screening", ())),
                facts=tuple(Fact.from_json(f) for f in raw.get("facts", ())),
                crisis_turns=tuple(int(t) for t in raw.get("crisis_turns", ())),
            )
        except (TypeError, ValueError, KeyError):
            # A state written by another version: keep the risk (it must never be lost), start the rest anew.
            log.warning("care state could not be read in full; keeping its risk level only")
            return base


@dataclass(frozen=True)
class Observation:
    """What ``observe`` found: the new state and the turn's risk in context."""

    state: CareState
    risk: Risk
    screening_answer: ScreeningItem | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def fading(self) -> bool:
        """Whether this turn's risk is only a weak signal that will fade (no crisis lines for it)."""
        last = self.state.marks[-1] if self.state.marks else None
        return self.risk.level != "none" and last is not None and last.turn == self.state.turns - 1 and not last.sticky


def ordered(categories: Iterable[str]) -> tuple[str, ...]:
    """Categories in vocabulary order (unknown ones last, in their order)."""
    given = list(dict.fromkeys(categories))
    known = [c for c in RISK_CATEGORIES if c in given]
    return tuple(known + [c for c in given if c not in RISK_CATEGORIES])


def _raise(risk: Risk, level: str, categories: Sequence[str], reason: str) -> Risk:
    """``risk`` raised to at least ``level`` with ``categories`` and ``reason`` added."""
    new_level = level if _RANK[level] > _RANK[risk.level] else risk.level
    reasons = risk.reasons if reason in risk.reasons else (*risk.reasons, reason)
    return Risk(level=new_level, reasons=reasons, categories=ordered((*risk.categories, *categories)))


def _context_risk(state: CareState, text: str, risk: Risk, previous: str = "") -> tuple[Risk, list[str]]:
    """The turn's risk with what the conversation so far (and the client's previous turn) says about it."""
    notes: list[str] = []
    had = set(state.categories)
    abusers = {f.who for f in state.facts if f.event == "hit" and f.who}
    abused = "abuse" in had or bool(abusers)
    if abused and _FEAR.search(text) and (_AFTER_ABUSE.search(text) or abusers & facts_mod.people_in(text)):
        risk = _raise(risk, "high", ["abuse"], "앞서 말한 폭력 뒤의 두려움")
        notes.append("context_abuse")
    if "school_violence" in had and _FEAR.search(text) and _SCHOOL_FEAR.search(text):
        risk = _raise(risk, "high", ["school_violence"], "앞서 말한 학교폭력 뒤의 두려움")
        notes.append("context_school")
    means_told = any(s.kind == "means" for s in state.signals)
    ideation = (state.level == "high" or means_told) and SUICIDE_TYPE & had
    if ideation and _READY.search(text) and risk.level != "high":
        # "약을 모아 뒀어요" … "오늘 밤에요": a time or a goodbye after ideation or a means is a plan.
        risk = _raise(risk, "high", ["suicide"], "앞서 말한 죽고 싶은 마음·방법 뒤의 준비·작별·시점")
        notes.append("context_ready")
    if previous and _TOOK.search(text) and not _WHAT_TAKEN.search(text) and _DISTRESS.search(previous):
        # "오늘 많이 힘들었어요" … "그래서 아까 먹었어요": taken what? Watch, and the reply asks.
        risk = _raise(risk, "watch", ["suicide"], "힘든 이야기 뒤에 무언가를 먹었다고 함")
        notes.append("took_after_distress")
    for pattern, categories, reason in _NETS:
        if pattern.search(text):
            risk = _raise(risk, "high", categories, reason)
            notes.append("net_" + categories[-1])
    if _REVENGE.search(text) and _PLAN.search(text):
        risk = _raise(risk, "high", ["harm_to_others"], "방법까지 생각한 보복")
        notes.append("revenge_plan")
    held = {c for m in state.marks if m.sticky for c in m.categories}  # a fading classifier flag is no ideation
    if _MINIMISING.search(text) and (SUICIDE_TYPE & held or any(s.turn >= 0 for s in state.signals)):
        risk = _raise(risk, "watch", ["suicide"] if not risk.categories else [], "죽고 싶은 마음을 말한 뒤 축소")
        notes.append("minimising")
    return risk, notes


#: Reasons the conversation adds to a turn it weighs differently from the detector.
STORY_REASON = "다른 사람의 이야기(드라마·지난 일)"
OTHERS_REASON = "다른 사람의 죽고 싶은 마음을 전함"
JOKED_REASON = "죽고 싶다는 말을 바로 농담이라고 함"

#: Signal kinds the risk detector must have flagged in the turn (watch or high, suicide-type): the
#: patterns only say which kind it is. The other kinds are nets for what the detector may miss.
DETECTOR_KINDS = frozenset({"hopeless", "burden", "means"})


def _ideation(risk: Risk) -> bool:
    return risk.level == "high" and bool(SUICIDE_TYPE & set(risk.categories))


def cues_in(text: str, detector_risk: Risk) -> set[str]:
    """The suicide-type signal kinds of one turn (``SIGNALS``; ``ideation`` for a high turn).

    Hopelessness and being a burden count only where the risk detector flagged the turn (so "살
    이유가 없네" about a bag stays out); pass the risk as ``observe`` weighs it, so that a
    classifier-only flag without context flags nothing. A flagged turn of no known kind is no
    step (sadness or stress is not a risk-relevant cue). A cue told as over ("예전엔 … 지금은
    살 만해요") or denied in the same breath ("할머니 따라가고 싶다 이런 건 전혀 아니에요") is not a
    signal.
    """
    if _RESOLVED_PAST.search(text):
        return set()
    flagged = detector_risk.level != "none" and bool(SUICIDE_TYPE & set(detector_risk.categories))
    kinds = {
        k
        for k, p in SIGNALS.items()
        if (m := p.search(text)) and not _denied_after(text, m.end()) and (flagged or k not in DETECTOR_KINDS)
    }
    if flagged and detector_risk.level == "high":
        kinds.add("ideation")
    return kinds


def _denied_after(text: str, end: int) -> bool:
    """Whether a denial follows the cue ending at ``end`` closely, in the same sentence."""
    for m in _DENIAL.finditer(text, end):
        between = text[end : m.start()]
        return len(between) <= 15 and not re.search(r"[.?!]", between)
    return False


def _signals(state: CareState, text: str, kinds: set[str], turn: int) -> tuple[Signal, ...]:
    seen = {s.kind for s in state.signals}
    order = (*SIGNALS, "ideation", "joked")
    new = [Signal(kind, turn, text) for kind in order if kind in kinds and kind not in seen]
    return (*state.signals, *new)


def classifier_only(risk: Risk) -> bool:
    """Whether only the trained classifier flagged this risk (no phrase rule among its reasons)."""
    return risk.level != "none" and all(r.startswith(CLASSIFIER_REASON) for r in risk.reasons)


def _combine(marks: Sequence[Mark], turn: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(level, categories, reasons) of the marks active at ``turn``."""
    active = [m for m in marks if m.active(turn)]
    level = max((m.level for m in active), key=_RANK.__getitem__, default="none")
    categories = ordered(c for m in active for c in m.categories)
    reasons = tuple(dict.fromkeys(r for m in active for r in m.reasons))
    return level, categories, reasons


def _weighed(state: CareState, text: str, turn_risk: Risk) -> tuple[Risk, str]:
    """The detector's risk as the conversation weighs it, and how firm it is.

    Returns:
        The risk and ``firm`` (a rule's or the classifier's high, or a watch with context),
        ``weak`` (a classifier-only ``watch`` with no context: it counts for a while and fades)
        or ``faint`` (raises nothing: a suicide-type rule watch with no cue and no context, such
        as the intensifier idiom "회사 때문에 죽겠어요").
    """
    if turn_risk.level == "none":
        return turn_risk, "firm"
    # Context: the conversation already holds this kind of risk for good, or (for suicide-type risk) a
    # risk-relevant cue now or earlier. A flag of another kind is no context, nor is a fading mark or
    # a provisional watch (the classifier's own guess, not yet confirmed).
    cues = {k for k, p in SIGNALS.items() if p.search(text)}
    held = {c for m in state.marks if m.sticky and not m.provisional for c in m.categories}
    same_kind = set(turn_risk.categories) & held
    suicide_only = set(turn_risk.categories) <= SUICIDE_TYPE
    suicide_context = bool(SUICIDE_TYPE & set(turn_risk.categories)) and bool(state.signals or cues)
    if same_kind or suicide_context:
        return turn_risk, "firm"
    if suicide_only and someone_elses_story(text):
        # Fiction, or a third person's past told as past: shown to the counsellor, then it fades.
        return Risk("watch", (*turn_risk.reasons, STORY_REASON), turn_risk.categories), "weak"
    if classifier_only(turn_risk):
        # A classifier-only high after any flagged turn is real (violence, an overdose or
        # self-harm told in pieces); as the first sign of anything it gets its crisis reply but
        # fades like a watch unless the conversation confirms it. A classifier-only watch with
        # no context counts for a while and fades.
        if turn_risk.level == "high" and any(m.active(state.turns) for m in state.marks):
            return turn_risk, "firm"
        return turn_risk, "weak"
    if turn_risk.level == "high" and suicide_only and _taken_back_as_joke(text, turn_risk):
        # "죽고 싶다 ㅋㅋ 아 농담이에요" as the first sign: not a crisis, but not nothing either. It
        # stays at watch and Maum asks gently (the screening starts, see ``JOKED_REASON``).
        return Risk("watch", (*turn_risk.reasons, JOKED_REASON), turn_risk.categories), "firm"
    if turn_risk.level == "watch" and suicide_only:
        told_now = _REPORTED.search(text) or _PRESENT.search(text)
        if _THIRD_PERSON.search(text) and not _FIRST_PERSON.search(text) and told_now:
            # "친구가 죽고 싶대요", "친구가 어제 자살 시도를 했어요": someone else's risk, told as now, is a
            # concern, not an idiom.
            return Risk("watch", (*turn_risk.reasons, OTHERS_REASON), turn_risk.categories), "firm"
        return Risk("none"), "faint"
    return turn_risk, "firm"


def someone_elses_story(text: str) -> bool:
    """Whether ``text`` tells fiction or a third person's past, with no first-person subject.

    "다음 회에 여주가 한강 다리에서 뛰어내리려는 거 예고 나와서 궁금해요" and "제 친구가 대학교 때
    자살 시도를 한 적이 있었어요" are; "친구가 어제 자살 시도를 했어요" (now) and "저도 드라마
    주인공처럼 뛰어내리고 싶어요" (the client) are not.
    """
    if not _THIRD_PERSON.search(text) or _FIRST_PERSON.search(text):
        return False
    return bool(_FICTION.search(text)) or (bool(_PAST_STORY.search(text)) and not _PRESENT.search(text))


def _taken_back_as_joke(text: str, turn_risk: Risk) -> bool:
    """Whether every risk phrase of ``text`` comes before the client takes it back as a joke."""
    phrases = [r for r in turn_risk.reasons if not r.startswith(CLASSIFIER_REASON)]
    joke = _JOKE_AFTER.search(text)
    if not phrases or joke is None or not ("ㅋ" in text or "ㅎㅎ" in text or "농담" in text):
        return False
    return all(0 <= text.find(p) < joke.start() for p in phrases)


def _denies(state: CareState, text: str, turn_risk: Risk) -> bool:
    """Whether ``text`` denies the risk words it uses (a no to the pending question, or at the start).

    "아니요 죽고 싶다거나 그런 건 전혀 없어요" repeats the question's words only to deny them;
    "아니요 사실은 죽고 싶어요" does not (the risk words come after the no).
    """
    if turn_risk.level == "none" or not set(turn_risk.categories) <= SUICIDE_TYPE:
        return False
    if state.pending is None and (state.sticky_level != "none" or state.signals):
        return False  # after earlier signs, a denial is minimising (it keeps watch), not an all-clear
    if state.pending is not None and parse_answer(text) != "no":
        return False
    phrases = [r for r in turn_risk.reasons if not r.startswith(CLASSIFIER_REASON)]
    last_no = max((m.start() for m in _DENIAL.finditer(text)), default=-1)
    if not phrases:
        # Only the classifier read risk in a turn that says no ("아니요 그런 생각은 없어요 할머니가 …"):
        # there are no risk words of the client's own to keep, unless a cue stands undenied.
        return turn_risk.level == "watch" and last_no >= 0 and not cues_in(text, turn_risk)
    return all(0 <= text.find(p) < last_no for p in phrases)


def observe(state: CareState, text: str, turn_risk: Risk, previous: str = "") -> Observation:
    """One client turn read in the light of the conversation (see the module docstring).

    Args:
        state: the conversation before this turn (``CareState()`` for a new one).
        text: what the client said.
        turn_risk: the risk detector's reading of ``text`` alone.
        previous: the client's previous turn, for a follow-up that only makes sense with it.

    Returns:
        The new state (not yet holding the question or crisis reply of this turn's answer: the
        caller adds those with ``ask`` / ``with_crisis``) and the turn's risk in context.
    """
    turn = state.turns
    weighed, firmness = _weighed(state, text, turn_risk)
    risk, notes = _context_risk(state, text, weighed, previous)
    if firmness != "firm":
        notes.append(f"{firmness}: {turn_risk.level} {', '.join(turn_risk.reasons)}")
    if _denies(state, text, turn_risk):
        # "아니요 죽고 싶다거나 그런 건 전혀 없어요": the question's own words, denied.
        weighed, firmness = Risk("none"), "faint"
        risk, notes = _context_risk(state, text, weighed, previous)
        notes.append("denied: " + ", ".join(turn_risk.reasons))
    firm_raise = bool([n for n in notes if not n.startswith(("weak", "faint"))])
    answered = None
    screening = state.screening
    pending = state.pending
    if pending is not None:
        answer = parse_answer(text)
        answered = dataclasses.replace(pending, answer=answer, answer_text=text)
        screening = (*screening[:-1], answered)
        if answer == "yes" and pending.key in HIGH_IF_YES:
            label = {"intent": "실행 의도", "plan": "구체적 계획", "behaviour": "최근 준비·시도"}[pending.key]
            risk = _raise(risk, "high", ["suicide"], f"선별 질문에 '예': {label}")
            firm_raise = True
        elif answer in ("yes", "unsure") and risk.level == "none":
            risk = _raise(risk, "watch", ["suicide"], f"선별 질문에 '{text}'")
            firm_raise = True

    said_now = cues_in(text, weighed) - {"ideation"} | ({"joked"} if JOKED_REASON in weighed.reasons else set())
    if "passive_wish" in said_now:
        risk = _raise(risk, "high", ["suicide"], "죽음을 바라는 마음")
    # The classifier's own first guess is no ideation the client told: the screening answers decide.
    told = _ideation(risk) and (firmness == "firm" or firm_raise)
    signals = _signals(state, text, said_now | ({"ideation"} if told else set()), turn)
    kinds = {s.kind for s in signals}
    n_kinds = len(kinds)
    if said_now:
        cue_names = ", ".join(SIGNAL_NAMES_KO[k] for k in SIGNAL_NAMES_KO if k in kinds)
        if n_kinds >= HIGH_KINDS or ("farewell" in kinds and n_kinds >= 2):
            risk = _raise(risk, "high", ["suicide"], f"대화 전체에서 이어진 위험 신호 ({cue_names})")
        elif n_kinds >= WATCH_KINDS or said_now - COMPANION_KINDS:
            # a farewell act (이사 가서 작별 인사) or a means alone counts only together with other signals
            label = "여러 차례 이어진 위험 신호" if n_kinds >= WATCH_KINDS else "위험 신호"
            risk = _raise(risk, "watch", ["suicide"], f"{label} ({cue_names})")
        if said_now - COMPANION_KINDS or n_kinds >= WATCH_KINDS:
            firm_raise = True

    calm = risk.level == "none" and not said_now and _CALM.search(text) and not _READY.search(text)
    # A weak signal ends on a calm turn (a joke, plans, thanks); otherwise it holds one more turn.
    marks = [m for m in state.marks if m.active(turn) and (m.sticky or not calm)]
    if answered is not None and answered.answer == "no" and answered.key in SETTLING_QUESTIONS:
        # "아니요" to the wish to be dead or to thoughts of suicide: the classifier's guess is settled.
        marks = [m for m in marks if not m.provisional]
    if risk.level != "none":
        # Real risk stays: a high turn, a risk-relevant cue, a context rule, a screening answer,
        # a rule-backed watch, a classifier's watch the conversation confirms. A classifier-only
        # watch with no context fades.
        sticky = firm_raise or firmness == "firm"
        if not sticky and risk.level == "high" and SUICIDE_TYPE & set(risk.categories):
            # The classifier alone reads suicide-type risk as the first sign: ambiguous, so ask
            # (the screening starts after the crisis reply) and keep watch until the answers
            # settle it, rather than let it fade on two calm turns.
            marks.append(Mark(turn, "watch", risk.categories, risk.reasons, True, provisional=True))
        marks.append(Mark(turn, risk.level, risk.categories, risk.reasons, sticky))
    level, categories, reasons = _combine(marks, turn)

    new_state = CareState(
        level=level,
        categories=categories,
        reasons=reasons,
        turns=turn + 1,
        signals=signals,
        screening=screening,
        facts=facts_mod.merge(state.facts, facts_mod.facts_in(text, turn)),
        crisis_turns=state.crisis_turns,
        marks=tuple(marks),
    )
    return Observation(new_state, risk, answered, tuple(notes))


def conversation_risk(state: CareState | None) -> dict[str, Any]:
    """The conversation's risk as the API and the command line show it: ``{level, categories, reasons}``."""
    state = state or CareState()
    return {"level": state.level, "categories": list(state.categories), "reasons": list(state.reasons)}
