"""Crisis replies by situation, each with the crisis lines that fit it (``data/crisis.json``).

A suicide crisis needs 109 and 1577-0199; a child at risk needs 112 (아동학대 신고) and 1388;
school violence 117; partner or family violence 1366 and 112; a medical emergency 119 first;
danger right now 112/119 first. ``crisis_reply(categories)`` picks the reply of the most urgent
situation and adds one sentence naming the lines of the other situations the turn touches, so a
reply never lacks a number that one of its categories needs. Every reply says Maum is an AI and
offers a human counsellor; each has a short spoken form (``Reply.spoken_text``) for the voice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from pipeline.errors import ModelFilesError
from pipeline.types import RISK_CATEGORIES, Reply

#: Which situation's reply leads when several apply: danger now and the body first.
URGENCY: tuple[str, ...] = (
    "imminent",
    "medical",
    "child_at_risk",
    "harm_to_others",
    "suicide",
    "self_harm",
    "abuse",
    "school_violence",
    "caregiver",
)
#: Words every crisis reply must carry: it says it is an AI and offers a person.
MUST_SAY = ("AI", "상담 선생님")
#: The longest spoken form, in characters (about 12 s of Korean speech at ~7 syllables a second).
SPOKEN_MAX_CHARS = 85


@dataclass(frozen=True)
class CrisisLine:
    """One crisis phone line."""

    number: str
    name: str
    hours: str
    source: str
    confirmed: bool


@dataclass(frozen=True)
class CrisisText:
    """One written crisis reply and its short spoken form."""

    id: str
    text: str
    spoken: str


@dataclass(frozen=True)
class CrisisData:
    """The lines and, per situation, the numbers it needs and its replies."""

    lines: Mapping[str, CrisisLine]
    numbers: Mapping[str, tuple[str, ...]]
    replies: Mapping[str, tuple[CrisisText, ...]]
    watch_notes: Mapping[str, str] = field(default_factory=dict)


def default_path() -> Path:
    """The crisis resources shipped with the package (``pipeline/care/data/crisis.json``)."""
    return Path(str(resources.files("pipeline.care") / "data" / "crisis.json"))


def problems_of(data: CrisisData) -> list[str]:
    """What is wrong with the crisis data (empty when it is fine)."""
    problems = [f"no replies for {c}" for c in RISK_CATEGORIES if not data.replies.get(c)]
    for situation, replies in data.replies.items():
        if situation not in RISK_CATEGORIES:
            problems.append(f"unknown situation {situation!r}")
        numbers = data.numbers.get(situation, ())
        problems += [f"{situation}: unknown line {n}" for n in numbers if n not in data.lines]
        for reply in replies:
            problems += [f"{reply.id}: misses {n}" for n in numbers if n not in reply.text]
            problems += [f"{reply.id}: does not say {w}" for w in MUST_SAY if w not in reply.text]
            if not reply.spoken or len(reply.spoken) > SPOKEN_MAX_CHARS:
                problems.append(f"{reply.id}: spoken form empty or longer than {SPOKEN_MAX_CHARS} characters")
            elif numbers and numbers[0] not in reply.spoken:
                problems.append(f"{reply.id}: spoken form misses the first line {numbers[0]}")
    for situation, note in data.watch_notes.items():
        numbers = data.numbers.get(situation, ())
        if situation not in RISK_CATEGORIES or not numbers or numbers[0] not in note:
            problems.append(f"watch note {situation}: unknown situation or misses {numbers[:1]}")
    return problems


def watch_note(categories: Iterable[str], data: CrisisData | None = None) -> str:
    """A one-sentence pointer to the line of a watch-level situation the reply bank has no note for, or ""."""
    data = data or shipped()
    return next((data.watch_notes[c] for c in categories if c in data.watch_notes), "")


def load_crisis(path: str | Path | None = None) -> CrisisData:
    """Read and check ``crisis.json``.

    Raises:
        ModelFilesError: unreadable, or a reply lacks a number of its situation, the AI
            disclosure, the counsellor offer, or a short spoken form.
    """
    path = Path(path or default_path())
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        lines = {
            number: CrisisLine(number, r["name"], r["hours"], r["source"], bool(r["confirmed"]))
            for number, r in raw["resources"].items()
        }
        numbers = {s: tuple(v["numbers"]) for s, v in raw["situations"].items()}
        replies = {
            s: tuple(CrisisText(r["id"], r["text"], r["spoken"]) for r in v["replies"])
            for s, v in raw["situations"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFilesError(detail=f"cannot read crisis data {path}: {exc!r}") from exc
    data = CrisisData(lines, numbers, replies, dict(raw.get("watch_notes", {})))
    problems = problems_of(data)
    if problems:
        raise ModelFilesError(detail=f"crisis data {path}: " + "; ".join(problems[:10]))
    return data


@cache
def shipped() -> CrisisData:
    """The crisis data shipped with Maum (read once per process)."""
    return load_crisis()


def lead_situation(categories: Iterable[str]) -> str:
    """The situation whose reply leads (``suicide`` when no known category is given)."""
    given = set(categories)
    return next((c for c in URGENCY if c in given), "suicide")


def numbers_for(categories: Iterable[str], data: CrisisData | None = None) -> tuple[str, ...]:
    """Every line the categories need, the lead situation's first."""
    data = data or shipped()
    cats = list(categories) or ["suicide"]
    lead = lead_situation(cats)
    ordered = [lead, *(c for c in URGENCY if c in cats and c != lead)]
    return tuple(dict.fromkeys(n for c in ordered for n in data.numbers.get(c, ())))


def crisis_reply(categories: Sequence[str], used: Iterable[str] = (), data: CrisisData | None = None) -> Reply:
    """The crisis reply for a turn with these risk categories.

    Args:
        categories: the risk categories of the turn (or of the conversation).
        used: reply ids said before in the conversation; an unused text is preferred.
        data: crisis data; the shipped file when omitted.
    """
    data = data or shipped()
    lead = lead_situation(categories)
    pool = data.replies[lead]
    used = set(used)
    chosen = next((r for r in pool if r.id not in used), pool[len(used & {r.id for r in pool}) % len(pool)])
    missing = [n for n in numbers_for(categories, data) if n not in chosen.text]
    text = chosen.text
    if missing:
        named = ", ".join(f"{data.lines[n].name} {n}" for n in missing)
        text = f"{text} 함께 연락할 수 있는 곳: {named}."
    return Reply(text=text, kind="crisis", reply_id=chosen.id, spoken_text=chosen.spoken)
