"""A small memory of what the client said happened, and to whom.

``facts_in(text)`` finds statements such as "아빠가 돌아가셨어요" (who: 아버지, what: died) or
"아빠가 담배를 끊으셨대요" (아버지, quit_smoking). The person is the nearest family or social
word before the event in the same sentence, as subject, topic or agent (아빠가 / 아빠는 /
아빠한테); an event that the client did (제가 …) has no person of its own and is skipped when
its event needs one. Each event has a sentence Maum can use later to show it remembers
("아버지께서 돌아가셨다고 하셨죠."), and the events say which claims a reply may make: only
a conversation in which death or leaving was said may hear "떠나셨다".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.care.reflect import particle

#: Spoken forms → how Maum names the person.
PEOPLE: Mapping[str, str] = {
    "아빠": "아버지",
    "아버지": "아버지",
    "아버님": "아버지",
    "엄마": "어머니",
    "어머니": "어머니",
    "어머님": "어머니",
    "할머니": "할머니",
    "할아버지": "할아버지",
    "남편": "남편",
    "아내": "아내",
    "와이프": "아내",
    "남자친구": "남자친구",
    "남친": "남자친구",
    "여자친구": "여자친구",
    "여친": "여자친구",
    "아기": "아기",
    "애기": "아기",
    "아이": "아이",
    "딸": "딸",
    "아들": "아들",
    "동생": "동생",
    "언니": "언니",
    "오빠": "오빠",
    "누나": "누나",
    "형": "형",
    "친구": "친구",
    "팀장": "팀장님",
    "팀장님": "팀장님",
    "상사": "상사",
    "부장": "부장님",
    "부장님": "부장님",
    "선생님": "선생님",
    "강아지": "강아지",
    "고양이": "고양이",
}
#: People Maum speaks of with honorifics (께서, 돌아가셨다).
ELDERS = frozenset({"아버지", "어머니", "할머니", "할아버지"})

_PARTICLE_AFTER_PERSON = r"(?=께서|께|가|이|는|은|를|을|한테|에게|도|랑|이랑|와|과|의|님|\s|$|[.,!?])"
_PERSON = re.compile("(" + "|".join(sorted(PEOPLE, key=len, reverse=True)) + ")" + _PARTICLE_AFTER_PERSON)


@dataclass(frozen=True)
class EventKind:
    """One kind of event: how it is said, whether it needs a person, how Maum refers to it."""

    pattern: re.Pattern[str]
    needs_person: bool
    major: bool  # a loss or harm worth referring back to
    elder: str = ""  # the reference for 아버지, 어머니, …
    other: str = ""  # the reference for anyone else (or the client, without a person)
    fits: str = ""  # words a reply to this event may use; a reply with none of them ignores it
    ack_elder: str = ""  # acknowledging it in the turn it is told
    ack_other: str = ""


EVENTS: Mapping[str, EventKind] = {
    "died": EventKind(
        re.compile(r"돌아가(셨|시|신)|세상을\s*떠|하늘나라|죽었|숨졌|숨지|장례|별세|사망"),
        True,
        True,
        "{who}께서 돌아가셨다고 하셨죠.",
        "{who|이} 세상을 떠났다고 하셨죠.",
        r"돌아가|떠나|떠났|떠난|잃|보내|빈자리|그리|애도|상실|하늘|장례",
        "{who}께서 돌아가셨다니, 얼마나 마음이 아프실지요.",
        "{who|이} 세상을 떠났다니, 얼마나 마음이 아프실지요.",
    ),
    "left": EventKind(
        re.compile(r"헤어졌|헤어지게|이혼|집을\s*나갔|집\s*나갔|떠나\s*버렸|떠났|연락이\s*끊"),
        True,
        True,
        "{who}와 떨어지게 되셨다고 하셨죠.",
        "{who|과} 헤어지셨다고 하셨죠.",
        r"헤어|떠나|떠났|떠난|이별|빈자리|허전|그리|끝난|끝나",
        "{who}와 떨어지게 되셨다니 마음이 많이 허전하시겠어요.",
        "{who|과} 헤어지셨다니 마음이 많이 허전하시겠어요.",
    ),
    "hit": EventKind(
        re.compile(r"때렸|때려|때리|맞았|맞아요|폭력|손찌검|밀쳤|목을\s*졸"),
        True,
        True,
        "{who}께 맞으셨다고 하셨죠.",
        "{who}에게 폭력을 당하셨다고 하셨죠.",
        r"폭력|때리|때렸|맞|아프|무섭|무서|안전|다치",
        "{who}께 그런 일을 당하셨다니 정말 무섭고 아프셨겠어요.",
        "{who}에게 그런 일을 당하셨다니 정말 무섭고 아프셨겠어요.",
    ),
    "sick": EventKind(
        re.compile(r"편찮|입원|수술|암\s*(이|진단|판정)|치매|쓰러지|쓰러졌|투병|아프(세|셔|시)"),
        True,
        True,
        "{who}께서 편찮으시다고 하셨죠.",
        "{who|이} 아프다고 하셨죠.",
        r"아프|아파|편찮|병|건강|걱정|입원|치료|간병|돌보",
        "{who}께서 편찮으시다니 걱정이 많으시겠어요.",
        "{who|이} 아프다니 걱정이 많으시겠어요.",
    ),
    "lost_job": EventKind(
        re.compile(r"잘렸|해고|실직|권고\s*사직|일자리를\s*잃|회사를\s*그만두|퇴사"),
        False,
        True,
        "",
        "일을 그만두게 되셨다고 하셨죠.",
        r"일자리|그만두|잃|막막|해고|실직|잘리|잘렸|생계|앞날",
        "",
        "일을 그만두게 되셨다니 많이 막막하시겠어요.",
    ),
    "born": EventKind(
        re.compile(r"태어났|출산|낳았"), True, False, "", "{who|이} 태어났다고 하셨죠.", "", "", "{who|이} 태어났군요."
    ),
    "quit_smoking": EventKind(
        re.compile(r"담배를?\s*(\S+\s+)?끊"),
        True,
        False,
        "{who}께서 담배를 끊으셨다고 하셨죠.",
        "{who|이} 담배를 끊었다고 하셨죠.",
        r"담배|금연|끊",
        "{who}께서 담배를 끊으셨군요.",
        "{who|이} 담배를 끊었군요.",
    ),
}
_SENTENCES = re.compile(r"[^.!?\n]+")


@dataclass(frozen=True)
class Fact:
    """Something the client said happened.

    Attributes:
        who: the person as Maum names them (아버지, 남자친구); empty for the client themselves.
        event: a key of ``EVENTS``.
        turn: the 0-based turn it was said in.
        said: the client's sentence, as written.
    """

    who: str
    event: str
    turn: int
    said: str

    def reference(self) -> str:
        """A sentence that shows Maum remembers this ("아버지께서 돌아가셨다고 하셨죠.")."""
        kind = EVENTS[self.event]
        template = kind.elder if self.who in ELDERS and kind.elder else kind.other
        return fill_person(template, self.who)

    def acknowledgement(self) -> str:
        """A sentence acknowledging this in the turn it is told ("아버지께서 돌아가셨다니, …")."""
        kind = EVENTS[self.event]
        template = kind.ack_elder if self.who in ELDERS and kind.ack_elder else kind.ack_other
        return fill_person(template, self.who)

    def fits(self, reply_text: str) -> bool:
        """Whether a reply speaks to this event at all (a reply about a visit does not fit a death)."""
        pattern = EVENTS[self.event].fits
        return not pattern or re.search(pattern, reply_text) is not None

    def as_json(self) -> dict[str, object]:
        """A plain JSON object for the stored care state."""
        return {"who": self.who, "event": self.event, "turn": self.turn, "said": self.said}

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Fact:
        """The fact ``as_json`` wrote (missing optional keys get their defaults)."""
        return cls(str(raw.get("who", "")), str(raw["event"]), int(raw.get("turn", 0)), str(raw.get("said", "")))


def fill_person(template: str, who: str) -> str:
    """Put ``who`` into ``{who}`` / ``{who|이}`` slots (particles chosen by the last syllable)."""
    return re.sub(r"\{who(?:\|([^}]*))?\}", lambda m: who + (particle(who, m.group(1)) if m.group(1) else ""), template)


def people_in(text: str) -> set[str]:
    """The people named in ``text``, as Maum names them."""
    return {PEOPLE[m.group(1)] for m in _PERSON.finditer(text)}


def facts_in(text: str, turn: int = 0) -> list[Fact]:
    """The events the client states in ``text`` (see the module docstring)."""
    found: list[Fact] = []
    for sentence in _SENTENCES.finditer(text):
        s = sentence.group(0)
        for event, kind in EVENTS.items():
            m = kind.pattern.search(s)
            if m is None:
                continue
            before = s[: m.start()]
            people = list(_PERSON.finditer(before))
            who = PEOPLE[people[-1].group(1)] if people else ""
            if event == "hit" and people and before[people[-1].end() :].lstrip()[:1] in ("를", "을"):
                continue  # 제가 동생을 때렸어요: not something done to the client
            if kind.needs_person and not who:
                continue
            found.append(Fact(who, event, turn, s.strip()))
    return found


def merge(old: Iterable[Fact], new: Iterable[Fact]) -> tuple[Fact, ...]:
    """Old facts plus the new ones not known yet (one per person and event)."""
    merged = list(old)
    seen = {(f.who, f.event) for f in merged}
    for fact in new:
        if (fact.who, fact.event) not in seen:
            merged.append(fact)
            seen.add((fact.who, fact.event))
    return tuple(merged)
