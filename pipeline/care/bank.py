"""The curated reply bank (``data/replies.json``) and its cue embeddings.

The bank holds every text the ``care`` responder can say: counselling replies chosen by meaning
and emotion, follow-ups that use the conversation so far, short social answers (intents), crisis
replies and the soft notes added at ``watch`` risk. ``data/README.md`` is its datasheet.

Embedding every cue takes a few seconds, so the matrix is cached on disk next to the other
prepared model files, keyed by the bank's SHA-256: editing the bank invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ModelFilesError
from pipeline.types import EMOTION_LABELS

SITUATIONS = ("work", "school", "family", "relationships", "health", "money", "loneliness", "general")
#: Intent groups every bank must have (``short`` and ``boundary`` are optional).
INTENTS = ("greeting", "thanks", "goodbye", "identity", "listen", "fallback")
OPTIONAL_INTENTS = ("short", "boundary")
#: When a follow-up fits: the emotion or topic goes on, the mood turns lighter or heavier, or the
#: client keeps talking after a crisis reply.
FOLLOWUP_KINDS = ("same_emotion", "same_topic", "lighter", "heavier", "after_crisis")
#: Every crisis reply names all of these (자살예방상담전화, 정신건강위기상담, police, fire and
#: ambulance, youth line, women and violence line).
CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1388", "1366")
RISK_CATEGORIES = ("suicide", "self_harm", "harm_to_others", "abuse")
#: Word classes a reflection template can take.
WORD_CLASSES = ("person", "thing")
#: ``{N}`` is the client's word; ``{N|이}`` adds the particle that fits its last syllable.
SLOT = re.compile(r"\{N(?:\|([^}]*))?\}")
PARTICLES = ("이", "은", "을", "과", "으로", "이랑")


@dataclass(frozen=True)
class ReflectTemplate:
    """A replacement for a reply's first sentence that repeats the client's own word.

    Attributes:
        cls: ``person`` or ``thing``: which kind of word fits the slot.
        template: the sentence, with exactly one ``{N}`` or ``{N|particle}`` slot.
        situations: whose word lists may fill the slot; empty means the reply's own situation
            (or any situation for intents, which have none).
        words: when not empty, only these words (lexicon keys) may fill the slot.
    """

    cls: str
    template: str
    situations: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class BankReply:
    """One text of the bank, with what the responder needs to choose it.

    Attributes:
        id: unique id; a conversation never gets the same id twice while others are left.
        text: what Maum says when nothing is reflected.
        emotion: the emotion it answers (empty for intents and crisis replies).
        situation: the life area it answers (``general`` when it fits any).
        cues: example client sentences, matched by meaning.
        reflect: templates that repeat the client's key word in the first sentence.
        when: for follow-ups, which turn of the conversation it fits (``FOLLOWUP_KINDS``).
        categories: for crisis replies and watch notes, the risk categories it speaks to.
    """

    id: str
    text: str
    emotion: str = ""
    situation: str = "general"
    cues: tuple[str, ...] = ()
    reflect: tuple[ReflectTemplate, ...] = ()
    when: str = ""
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplyBank:
    """The whole bank, validated.

    Attributes:
        replies: counselling replies, chosen by meaning and emotion.
        followups: replies that answer the course of the conversation.
        intents: social answers by intent (greeting, thanks, goodbye, identity, listen, fallback,
            and optionally short and boundary).
        crisis: replies for high risk; each names every crisis line.
        watch_notes: one-sentence pointers to a human line, added at watch risk.
        reflect_words: situation → word class → lexicon key (no spaces) → the word as Maum says it.
        sha256: of the file, for the embedding cache.
    """

    replies: tuple[BankReply, ...]
    intents: dict[str, tuple[BankReply, ...]]
    crisis: tuple[BankReply, ...]
    sha256: str
    followups: tuple[BankReply, ...] = ()
    watch_notes: tuple[BankReply, ...] = ()
    reflect_words: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)

    def cue_rows(self) -> tuple[list[str], np.ndarray]:
        """Every cue text and, per cue, the index of its reply in ``replies``."""
        texts, owners = [], []
        for i, reply in enumerate(self.replies):
            for cue in reply.cues:
                texts.append(cue)
                owners.append(i)
        return texts, np.asarray(owners, dtype=np.int64)

    def everything(self) -> Iterable[BankReply]:
        """Every entry of every section."""
        yield from self.replies
        yield from self.followups
        for group in self.intents.values():
            yield from group
        yield from self.crisis
        yield from self.watch_notes


def default_bank_path() -> Path:
    """The curated reply bank shipped with the package (``pipeline/care/data/replies.json``)."""
    return Path(str(resources.files("pipeline.care") / "data" / "replies.json"))


def lexicon_key(word: str) -> str:
    """How a word is looked up in ``reflect_words``: without spaces (전 남친 and 전남친 are one)."""
    return "".join(word.split())


def _templates(raw: Any) -> tuple[ReflectTemplate, ...]:
    return tuple(
        ReflectTemplate(t["class"], t["template"], tuple(t.get("situations", ())), tuple(t.get("words", ())))
        for t in raw or ()
    )


def _entry(r: dict[str, Any], **overrides: Any) -> BankReply:
    values = {
        "id": r["id"],
        "text": r["text"],
        "emotion": r.get("emotion", ""),
        "situation": r.get("situation", "general"),
        "cues": tuple(r.get("cues", ())),
        "reflect": _templates(r.get("reflect")),
        "when": r.get("when", ""),
        "categories": tuple(r.get("categories", ())),
    }
    values.update(overrides)
    return BankReply(**values)


def _lexicon(raw: Any) -> dict[str, dict[str, dict[str, str]]]:
    """``{"work": {"person": ["팀장=팀장님", "동료"]}}`` → ``{"work": {"person": {"팀장": "팀장님", ...}}}``."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for situation, classes in (raw or {}).items():
        out[situation] = {}
        for cls, words in classes.items():
            table: dict[str, str] = {}
            for item in words:
                word, _, display = item.partition("=")
                table[lexicon_key(word)] = display or word
            out[situation][cls] = table
    return out


def _template_problems(owner: BankReply, lexicon: Mapping[str, Mapping[str, Mapping[str, str]]]) -> list[str]:
    problems = []
    for t in owner.reflect:
        slots = SLOT.findall(t.template)
        if t.cls not in WORD_CLASSES:
            problems.append(f"{owner.id}: reflect class {t.cls!r}")
        if len(SLOT.findall(t.template)) != 1 or t.template.count("{") != 1:
            problems.append(f"{owner.id}: a reflect template needs exactly one {{N}} slot")
        elif slots[0] and slots[0] not in PARTICLES:
            problems.append(f"{owner.id}: unknown particle {slots[0]!r} (one of {', '.join(PARTICLES)})")
        unknown = set(t.situations) - set(SITUATIONS)
        if unknown:
            problems.append(f"{owner.id}: reflect situations {sorted(unknown)}")
        known = {k for s in lexicon.values() for k in s.get(t.cls, {})}
        if set(t.words) - known:
            problems.append(f"{owner.id}: reflect words not in reflect_words: {sorted(set(t.words) - known)}")
    return problems


def load_bank(path: str | Path | None = None) -> ReplyBank:
    """Read and validate the bank.

    Raises:
        ModelFilesError: unreadable JSON, unknown emotion or situation, duplicate ids or texts, a
            crisis reply without every crisis line, a bad reflection template, or an empty section.
    """
    path = Path(path or default_bank_path())
    try:
        raw_bytes = path.read_bytes()
        raw = json.loads(raw_bytes)
        replies = tuple(_entry(r) for r in raw["replies"])
        intent_names = INTENTS + tuple(n for n in OPTIONAL_INTENTS if n in raw["intents"])
        intents = {name: tuple(_entry(r, situation="") for r in raw["intents"][name]) for name in intent_names}
        crisis = tuple(_entry(r, situation="") for r in raw["crisis"])
        followups = tuple(_entry(r, situation=r.get("situation", "")) for r in raw.get("followups", ()))
        watch_notes = tuple(_entry(r, situation="") for r in raw.get("watch_notes", ()))
        lexicon = _lexicon(raw.get("reflect_words"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFilesError(detail=f"cannot read reply bank {path}: {exc!r}") from exc
    everything = [*replies, *followups, *crisis, *watch_notes, *(r for group in intents.values() for r in group)]
    ids = [r.id for r in everything]
    texts = [r.text for r in everything]
    problems = [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"duplicate text {t[:20]}…" for t in sorted({t for t in texts if texts.count(t) > 1})]
    problems += [f"{r.id}: emotion {r.emotion!r}" for r in replies if r.emotion not in EMOTION_LABELS]
    problems += [f"{r.id}: situation {r.situation!r}" for r in replies if r.situation not in SITUATIONS]
    problems += [f"{r.id}: no cues" for r in replies if not r.cues]
    problems += [f"{r.id}: follow-up kind {r.when!r}" for r in followups if r.when not in FOLLOWUP_KINDS]
    problems += [f"{r.id}: emotion {r.emotion!r}" for r in followups if r.emotion and r.emotion not in EMOTION_LABELS]
    problems += [
        f"{r.id}: situation {r.situation!r}" for r in followups if r.situation and r.situation not in SITUATIONS
    ]
    problems += [f"{r.id}: misses crisis line {n}" for r in crisis for n in CRISIS_NUMBERS if n not in r.text]
    problems += [
        f"{r.id}: category {c!r}" for r in (*crisis, *watch_notes) for c in r.categories if c not in RISK_CATEGORIES
    ]
    problems += [f"section {name} is empty" for name, group in intents.items() if not group]
    problems += [f"reflect_words: unknown situation {s!r}" for s in lexicon if s not in SITUATIONS]
    problems += [p for r in everything for p in _template_problems(r, lexicon)]
    if not replies or not crisis:
        problems.append("replies and crisis must not be empty")
    if problems:
        raise ModelFilesError(detail=f"reply bank {path}: " + "; ".join(problems[:10]))
    return ReplyBank(
        replies=replies,
        intents=intents,
        crisis=crisis,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        followups=followups,
        watch_notes=watch_notes,
        reflect_words=lexicon,
    )


def cue_embeddings(bank: ReplyBank, embed, cache_dir: Path | None) -> np.ndarray:
    """(number of cues, 384) embeddings of every cue, from the cache when it matches the bank.

    Args:
        bank: the loaded bank.
        embed: callable list[str] → (n, 384) array.
        cache_dir: where to keep ``reply-cues-<sha>.npy``; None disables the cache.
    """
    texts, _ = bank.cue_rows()
    cached = cache_dir / f"reply-cues-{bank.sha256[:16]}.npy" if cache_dir else None
    if cached and cached.is_file():
        matrix = np.load(cached, allow_pickle=False)
        if matrix.shape[0] == len(texts):
            return matrix
    matrix = np.asarray(embed(texts), dtype=np.float32)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, matrix)
        os.replace(tmp, cached)
    return matrix
