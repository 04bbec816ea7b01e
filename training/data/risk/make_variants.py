"""Build the risk corpus split (``train.tsv``, ``dev.tsv``) from the hand-written sentences.

Reads the hand-written files of ``AUTHORS`` (``written.tsv``, ``written_<author>.tsv``:
``text<TAB>level<TAB>category``, every row written by a person; see ``import_written.py``), groups
near-duplicate sentences, adds automatic speech-recognition-style and typing variants, and splits
85 / 15 by group, stratified by label, so that no variant or close relative of a dev sentence is in
train. Everything is deterministic: a sentence's variants depend only on the seed and its own text,
so appending sentences leaves the variants of earlier ones unchanged. Every row carries its
author (``author`` column), for cross-author checks.

Variants (the ``source`` column names the one applied; ``written`` is the sentence itself):

- ``asr_jamo``: one jamo swapped for one that sounds alike (ㄱ/ㅋ/ㄲ, ㄷ/ㅌ/ㄸ, ㅂ/ㅍ/ㅃ, ㅈ/ㅊ/ㅉ,
  ㅅ/ㅆ, ㄴ/ㅇ/ㅁ, ㅓ/ㅗ, ㅐ/ㅔ, ㅕ/ㅛ, ㅡ/ㅜ, ㅚ/ㅙ/ㅞ, ...).
- ``asr_batchim``: one final consonant (받침) dropped, or an ㄴ/ㅇ/ㄹ added where there was none.
- ``asr_sound``: one word spelled as it is pronounced (연음 싶어 → 시퍼, 경음화 죽고 → 죽꼬,
  비음화 없는 → 엄는), as recognisers and fast typists write it.
- ``asr_space``: two words merged or one word split.
- ``asr_nospace``: every space dropped.
- ``asr_punct``: punctuation as Whisper writes it: a full stop or question mark at the end, and
  sometimes a comma after a clause ending (…는데, …니까, …고).
- ``homophone``: a common same-sounding misspelling (돼/되, 어떡해/어떻해, 않/안, 낫/낳, 웬/왠, ...).
- ``filler``: one or two fillers (음, 그, 막, 좀, 그냥, 진짜, 뭐지, ...) inserted between words.
- ``typo``: one keyboard slip on the two-set (두벌식) layout: a neighbouring key, or a missing shift
  (ㅆ → ㅅ, ㅖ → ㅔ).

Usage::

    python training/data/risk/make_variants.py            # rewrite train.tsv and dev.tsv here
    python training/data/risk/make_variants.py --stats    # also print the datasheet's count tables
    python training/data/risk/make_variants.py --out DIR  # write somewhere else (the test does)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEVELS = ("none", "watch", "high")
CATEGORIES = (
    "suicide",
    "self_harm",
    "harm_to_others",
    "abuse",
    "child_at_risk",
    "school_violence",
    "medical",
    "imminent",
    "caregiver",
)
SOURCES = (
    "written",
    "asr_jamo",
    "asr_batchim",
    "asr_sound",
    "asr_space",
    "asr_nospace",
    "asr_punct",
    "homophone",
    "filler",
    "typo",
)
HEADER = ("text", "level", "category", "group", "source", "author")

#: The hand-written files, in the order they are read, and who wrote each (the ``author`` column).
#: A sentence already read from an earlier file is skipped in a later one. Append new files at the
#: end: group ids count from the first file, so earlier groups keep their ids.
AUTHORS = (
    ("written.tsv", "assistant"),
    ("written_dev2.tsv", "dev2"),
    ("written_dev3.tsv", "dev3"),
    ("written_a.tsv", "writer_a"),
    ("written_b.tsv", "writer_b"),
    ("written_dev4.tsv", "dev4"),
    ("written_c.tsv", "writer_c"),
    ("written_d.tsv", "writer_d"),
)

SEED = 20261203
DEV_FRACTION = 0.15
#: How many variants a written sentence gets, and how likely each count is (mean 0.62).
VARIANT_COUNTS = ((0, 0.50), (1, 0.38), (2, 0.12))
#: Character-bigram Jaccard overlap at or above which two written sentences share a group.
GROUP_OVERLAP = 0.4

# --- Hangul syllables -----------------------------------------------------------------------------

INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
FIRST, LAST = 0xAC00, 0xD7A3


def decompose(ch: str) -> tuple[str, str, str] | None:
    """Split one Hangul syllable into (initial, medial, final); None for any other character."""
    code = ord(ch)
    if not FIRST <= code <= LAST:
        return None
    index = code - FIRST
    return INITIALS[index // 588], MEDIALS[(index % 588) // 28], FINALS[index % 28]


def compose(initial: str, medial: str, final: str = "") -> str:
    """Build one Hangul syllable from its jamo."""
    return chr(FIRST + INITIALS.index(initial) * 588 + MEDIALS.index(medial) * 28 + FINALS.index(final))


def _pairs(*groups: str) -> dict[str, str]:
    """Map every jamo of each group to the others of its group (as one string of choices)."""
    table: dict[str, str] = {}
    for group in groups:
        for jamo in group:
            table[jamo] = table.get(jamo, "") + group.replace(jamo, "")
    return table


SIMILAR_INITIAL = _pairs("ㄱㅋㄲ", "ㄷㅌㄸ", "ㅂㅍㅃ", "ㅈㅊㅉ", "ㅅㅆ", "ㄴㅇ", "ㄴㅁ", "ㄹㄴ")
SIMILAR_MEDIAL = _pairs("ㅓㅗ", "ㅐㅔ", "ㅒㅖ", "ㅕㅛ", "ㅡㅜ", "ㅚㅙㅞ", "ㅢㅣ", "ㅟㅣ", "ㅝㅗ")
SIMILAR_FINAL = _pairs("ㄴㅇ", "ㄴㅁ", "ㅇㅁ", "ㄱㄷ", "ㅂㄷ", "ㅅㄷ", "ㅆㅅ")

# Two-set keyboard neighbours (same row, adjacent keys) and unshifted keys.
KEY_ROWS = ("ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", "ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", "ㅋㅌㅊㅍㅠㅜㅡ")
NEIGHBOURS: dict[str, str] = defaultdict(str)
for _row in KEY_ROWS:
    for _i, _key in enumerate(_row):
        NEIGHBOURS[_key] = _row[max(_i - 1, 0) : _i] + _row[_i + 1 : _i + 2]
UNSHIFT = {"ㄲ": "ㄱ", "ㄸ": "ㄷ", "ㅃ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ", "ㅒ": "ㅐ", "ㅖ": "ㅔ"}

# Pronunciation: a final consonant moving onto a following ㅇ (연음): final -> (what stays, new initial).
LIAISON = {
    "ㄱ": ("", "ㄱ"),
    "ㄲ": ("", "ㄲ"),
    "ㄴ": ("", "ㄴ"),
    "ㄷ": ("", "ㄷ"),
    "ㄹ": ("", "ㄹ"),
    "ㅁ": ("", "ㅁ"),
    "ㅂ": ("", "ㅂ"),
    "ㅅ": ("", "ㅅ"),
    "ㅆ": ("", "ㅆ"),
    "ㅈ": ("", "ㅈ"),
    "ㅊ": ("", "ㅊ"),
    "ㅌ": ("", "ㅌ"),
    "ㅍ": ("", "ㅍ"),
    "ㅎ": ("", "ㅇ"),
    "ㄳ": ("ㄱ", "ㅆ"),
    "ㄵ": ("ㄴ", "ㅈ"),
    "ㄶ": ("", "ㄴ"),
    "ㄺ": ("ㄹ", "ㄱ"),
    "ㄻ": ("ㄹ", "ㅁ"),
    "ㄼ": ("ㄹ", "ㅂ"),
    "ㅀ": ("", "ㄹ"),
    "ㅄ": ("ㅂ", "ㅆ"),
}
OBSTRUENT_FINALS = set("ㄱㄲㄳㄺㄷㅅㅆㅈㅊㅌㅂㅄㅍ")
TENSE = {"ㄱ": "ㄲ", "ㄷ": "ㄸ", "ㅂ": "ㅃ", "ㅅ": "ㅆ", "ㅈ": "ㅉ"}
NASAL = {"ㄱ": "ㅇ", "ㄲ": "ㅇ", "ㄺ": "ㅇ", "ㄳ": "ㅇ", "ㅂ": "ㅁ", "ㅄ": "ㅁ", "ㅍ": "ㅁ", "ㄷ": "ㄴ", "ㅅ": "ㄴ"}
NASAL.update({"ㅆ": "ㄴ", "ㅈ": "ㄴ", "ㅊ": "ㄴ", "ㅌ": "ㄴ"})

HOMOPHONES = (
    ("어떡해", "어떻해"),
    ("어떡하", "어떻하"),
    ("돼요", "되요"),
    ("돼서", "되서"),
    ("됐", "됬"),
    ("안 돼", "안 되"),
    ("않", "안"),
    ("낫", "낳"),
    ("웬", "왠"),
    ("왠지", "웬지"),
    ("며칠", "몇일"),
    ("금세", "금새"),
    ("있다가", "이따가"),
    ("이따가", "있다가"),
    ("봬요", "뵈요"),
    ("거예요", "거에요"),
    ("예요", "에요"),
    ("든지", "던지"),
    ("게요", "께요"),
    ("할게", "할께"),
    ("갈게", "갈께"),
    ("싶어", "시퍼"),
    ("같아", "가타"),
    ("없어", "업서"),
    ("다리", "달이"),
    ("옥상", "옥쌍"),
)
FILLERS = ("음", "그", "막", "좀", "그냥", "진짜", "뭐지", "어", "아", "그니까", "약간", "뭐랄까", "그 뭐냐", "이제")


# --- variants ------------------------------------------------------------------------------------


def _syllable_positions(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if decompose(ch)]


def asr_jamo(text: str, rng: random.Random) -> str | None:
    """Swap one jamo for a similar-sounding one."""
    choices = []
    for i in _syllable_positions(text):
        ini, med, fin = decompose(text[i])
        choices += [(i, 0, alt) for alt in SIMILAR_INITIAL.get(ini, "")]
        choices += [(i, 1, alt) for alt in SIMILAR_MEDIAL.get(med, "")]
        choices += [(i, 2, alt) for alt in SIMILAR_FINAL.get(fin, "") if fin]
    if not choices:
        return None
    i, slot, alt = rng.choice(choices)
    parts = list(decompose(text[i]))
    parts[slot] = alt
    return text[:i] + compose(*parts) + text[i + 1 :]


def asr_batchim(text: str, rng: random.Random) -> str | None:
    """Drop one final consonant, or add ㄴ/ㅇ/ㄹ to a syllable without one."""
    positions = _syllable_positions(text)
    if not positions:
        return None
    i = rng.choice(positions)
    ini, med, fin = decompose(text[i])
    new = compose(ini, med, "" if fin else rng.choice("ㄴㅇㄹ"))
    return text[:i] + new + text[i + 1 :]


def _sound_changes(a: str, b: str) -> list[tuple[str, str]]:
    """Pronounced spellings of two adjacent syllables of one word."""
    ai, am, af = decompose(a)
    bi, bm, bf = decompose(b)
    out = []
    if af and bi == "ㅇ" and af in LIAISON:
        stay, moved = LIAISON[af]
        out.append((compose(ai, am, stay), compose(moved, bm, bf)))
    if af in OBSTRUENT_FINALS and bi in TENSE:
        out.append((a, compose(TENSE[bi], bm, bf)))
    if af in NASAL and bi in "ㄴㅁ":
        out.append((compose(ai, am, NASAL[af]), b))
    return out


def asr_sound(text: str, rng: random.Random) -> str | None:
    """Spell one syllable pair as it is pronounced (연음, 경음화, 비음화)."""
    choices = []
    for i in range(len(text) - 1):
        if decompose(text[i]) and decompose(text[i + 1]):
            choices += [(i, pair) for pair in _sound_changes(text[i], text[i + 1])]
    if not choices:
        return None
    i, (a, b) = rng.choice(choices)
    return text[:i] + a + b + text[i + 2 :]


def asr_space(text: str, rng: random.Random) -> str | None:
    """Merge two neighbouring words, or split one word of three or more syllables."""
    words = text.split(" ")
    options = [("merge", i) for i in range(len(words) - 1)]
    options += [("split", i) for i, w in enumerate(words) if len(w) >= 3]
    if not options:
        return None
    kind, i = rng.choice(options)
    if kind == "merge":
        words[i : i + 2] = [words[i] + words[i + 1]]
    else:
        cut = rng.randrange(1, len(words[i]))
        words[i : i + 1] = [words[i][:cut], words[i][cut:]]
    return " ".join(words)


def asr_nospace(text: str, rng: random.Random) -> str | None:
    """Drop every space."""
    return text.replace(" ", "") if " " in text else None


QUESTION_ENDINGS = (
    "까",
    "나요",
    "니",
    "냐",
    "어요",
    "아요",
    "돼요",
    "해요",
    "죠",
    "거야",
    "는지",
    "을까요",
    "뭐야",
    "래요",
)
CLAUSE_ENDINGS = ("는데", "니까", "고", "서", "면", "지만")


def asr_punct(text: str, rng: random.Random) -> str | None:
    """Punctuate like a speech recogniser: an end mark, sometimes a comma after a clause."""
    if re.search(r"[.,?!]", text):
        return None
    words = text.split(" ")
    clauses = [i for i, w in enumerate(words[:-1]) if w.endswith(CLAUSE_ENDINGS) and not w.endswith("에서")]
    if clauses and rng.random() < 0.5:
        i = rng.choice(clauses)
        words[i] += ","
    asks = re.search(r"(뭐|어떻게|어디|몇|왜|언제|누가|나요|까|니|냐)", text) and text.endswith(QUESTION_ENDINGS)
    return " ".join(words) + ("?" if asks and rng.random() < 0.8 else ".")


def homophone(text: str, rng: random.Random) -> str | None:
    """Replace one common form with its same-sounding misspelling."""
    found = [(m.start(), wrong, right) for right, wrong in HOMOPHONES for m in re.finditer(re.escape(right), text)]
    if not found:
        return None
    start, wrong, right = rng.choice(found)
    return text[:start] + wrong + text[start + len(right) :]


def filler(text: str, rng: random.Random) -> str | None:
    """Insert one or two fillers between words (or at the start)."""
    words = text.split(" ")
    wanted, inserted = rng.choice((1, 1, 2)), 0
    for _ in range(10):
        if inserted == wanted:
            break
        at = rng.randrange(0, len(words))
        word = rng.choice(FILLERS)
        if word in (words[at], words[at - 1] if at else ""):
            continue
        words.insert(at, word)
        inserted += 1
    return " ".join(words) if inserted else None


def typo(text: str, rng: random.Random) -> str | None:
    """One keyboard slip: a neighbouring key or a missing shift, keeping a valid syllable."""
    choices = []
    for i in _syllable_positions(text):
        ini, med, fin = decompose(text[i])
        choices += [(i, 0, k) for k in NEIGHBOURS.get(ini, "") + UNSHIFT.get(ini, "") if k in INITIALS]
        choices += [(i, 1, k) for k in NEIGHBOURS.get(med, "") + UNSHIFT.get(med, "") if k in MEDIALS]
        if fin:
            choices += [(i, 2, k) for k in NEIGHBOURS.get(fin, "") + UNSHIFT.get(fin, "") if k in FINALS]
    if not choices:
        return None
    i, slot, key = rng.choice(choices)
    parts = list(decompose(text[i]))
    parts[slot] = key
    return text[:i] + compose(*parts) + text[i + 1 :]


VARIANTS = {
    "asr_jamo": (asr_jamo, 3),
    "asr_batchim": (asr_batchim, 2),
    "asr_sound": (asr_sound, 2),
    "asr_space": (asr_space, 2),
    "asr_nospace": (asr_nospace, 1),
    "asr_punct": (asr_punct, 2),
    "homophone": (homophone, 1),
    "filler": (filler, 3),
    "typo": (typo, 2),
}


# --- corpus --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One corpus row."""

    text: str
    level: str
    category: str
    group: str = ""
    source: str = "written"
    author: str = "assistant"

    def as_tuple(self) -> tuple[str, str, str, str, str, str]:
        return (self.text, self.level, self.category, self.group, self.source, self.author)


def check_label(level: str, category: str) -> None:
    """Raise ValueError unless (level, category) uses the shared risk vocabulary."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    if (level == "none") != (category == "-"):
        raise ValueError(f"level {level!r} with category {category!r}: none rows, and only they, use '-'")
    if category == "-":
        return
    parts = category.split(",")
    unknown = [p for p in parts if p not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown category {unknown}; expected some of {CATEGORIES}")
    if parts != sorted(set(parts), key=CATEGORIES.index):
        raise ValueError(f"categories {category!r} must be distinct and in vocabulary order")
    if parts == ["imminent"]:
        raise ValueError("'imminent' goes beside a main category, never alone")


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Read a header-first TSV file into dicts (no quoting: texts never hold tabs)."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_written(path: Path, author: str = "assistant") -> list[Row]:
    """Read and validate the hand-written sentences of one file (one author)."""
    rows = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(read_tsv(path), start=2):
        text = raw["text"].strip()
        if not text or text != raw["text"]:
            raise ValueError(f"{path.name}:{line}: empty text or stray spaces")
        check_label(raw["level"], raw["category"])
        if text in seen:
            raise ValueError(f"{path.name}:{line}: duplicate of line {seen[text]}")
        seen[text] = line
        rows.append(Row(text, raw["level"], raw["category"], author=author))
    return rows


def read_all_written(folder: Path = HERE) -> list[Row]:
    """Every hand-written sentence of the files in ``AUTHORS`` that exist, each text once."""
    rows: list[Row] = []
    seen: set[str] = set()
    for name, author in AUTHORS:
        if (folder / name).exists():
            for row in read_written(folder / name, author):
                if row.text not in seen:
                    seen.add(row.text)
                    rows.append(row)
    return rows


def bigrams(text: str) -> set[str]:
    """Character bigrams of a text with spaces and punctuation removed."""
    s = re.sub(r"[\s\W_]", "", text)
    return {s[i : i + 2] for i in range(len(s) - 1)} or {s}


def assign_groups(texts: Sequence[str], threshold: float = GROUP_OVERLAP) -> list[str]:
    """Give near-duplicate texts (bigram Jaccard >= threshold, transitively) one group id.

    The id is ``w`` plus the 1-based position of the group's first text, so ids stay stable when
    texts are appended.
    """
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index: dict[str, list[int]] = defaultdict(list)
    grams = [bigrams(t) for t in texts]
    for i, g in enumerate(grams):
        shared: Counter[int] = Counter(j for b in g for j in index[b])
        for j, n in shared.items():
            if n / (len(g) + len(grams[j]) - n) >= threshold:
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)
        for b in g:
            index[b].append(i)
    return [f"w{root(i) + 1:04d}" for i in range(len(texts))]


def _rng(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def variants_of(row: Row, seed: int, taken: set[str]) -> list[Row]:
    """The automatic variants of one written row (none of them a text already in ``taken``)."""
    rng = _rng(seed, "variants", row.text)
    count = rng.choices([c for c, _ in VARIANT_COUNTS], [p for _, p in VARIANT_COUNTS])[0]
    names = list(VARIANTS)
    weights = [w for _, w in VARIANTS.values()]
    out: list[Row] = []
    used: set[str] = set()
    for _ in range(count * 6):
        if len(out) == count:
            break
        name = rng.choices(names, weights)[0]
        if name in used:
            continue
        text = VARIANTS[name][0](row.text, rng)
        if not text or text in taken or text == row.text:
            continue
        text = re.sub(r" +", " ", text).strip()
        if text in taken:
            continue
        taken.add(text)
        used.add(name)
        out.append(Row(text, row.level, row.category, row.group, name, row.author))
    return out


def split_groups(rows: Sequence[Row], seed: int, dev_fraction: float = DEV_FRACTION) -> set[str]:
    """Choose the dev groups: about ``dev_fraction`` of the groups of each (author, level, category).

    Stratifying by author puts every author in dev, and leaves the split of the first author's
    groups as it was before other authors were added.
    """
    by_label: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in rows:
        if row.group not in by_label[(row.author, row.level, row.category)]:
            by_label[(row.author, row.level, row.category)].append(row.group)
    label_of_group: dict[str, tuple[str, str, str]] = {}
    for label, groups in by_label.items():
        for g in groups:
            label_of_group.setdefault(g, label)
    dev: set[str] = set()
    for label in sorted(by_label):
        # Ranking by a per-group hash (not shuffling the list) keeps the split stable when
        # sentences are appended: a new group only displaces the last dev group of its label.
        groups = sorted(
            (g for g in by_label[label] if label_of_group[g] == label),
            key=lambda g: hashlib.sha256(f"{seed}:split:{g}".encode()).hexdigest(),
        )
        n = round(len(groups) * dev_fraction) if len(groups) >= 2 else 0
        if len(groups) >= 3:
            n = max(n, 1)
        dev.update(groups[:n])
    return dev


def build(written: Sequence[Row], seed: int = SEED) -> tuple[list[Row], list[Row]]:
    """Group, vary and split the written rows; returns (train, dev), each shuffled."""
    groups = assign_groups([r.text for r in written])
    written = [Row(r.text, r.level, r.category, g, r.source, r.author) for r, g in zip(written, groups, strict=True)]
    taken = {r.text for r in written}
    rows = []
    for row in written:
        rows.append(row)
        rows += variants_of(row, seed, taken)
    dev_groups = split_groups(written, seed)
    train = [r for r in rows if r.group not in dev_groups]
    dev = [r for r in rows if r.group in dev_groups]
    _rng(seed, "shuffle", "train").shuffle(train)
    _rng(seed, "shuffle", "dev").shuffle(dev)
    return train, dev


def write_tsv(path: Path, rows: Iterable[Row]) -> None:
    """Write rows with the corpus header."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(r.as_tuple() for r in rows)


def stats(train: Sequence[Row], dev: Sequence[Row]) -> str:
    """Markdown count tables (level x category, and source) for the datasheet."""
    lines = ["| level | category | written | train | dev | total |", "|---|---|--:|--:|--:|--:|"]
    labels = sorted({(r.level, r.category) for r in (*train, *dev)}, key=lambda x: (LEVELS.index(x[0]), x[1]))
    t, d = Counter((r.level, r.category) for r in train), Counter((r.level, r.category) for r in dev)
    w = Counter((r.level, r.category) for r in (*train, *dev) if r.source == "written")
    for label in labels:
        lines.append(f"| {label[0]} | `{label[1]}` | {w[label]} | {t[label]} | {d[label]} | {t[label] + d[label]} |")
    total = len(train) + len(dev)
    lines.append(f"| **total** | | {w.total()} | {len(train)} | {len(dev)} | {total} |")
    lines += ["", "| source | train | dev | total |", "|---|--:|--:|--:|"]
    t, d = Counter(r.source for r in train), Counter(r.source for r in dev)
    for source in SOURCES:
        lines.append(f"| `{source}` | {t[source]} | {d[source]} | {t[source] + d[source]} |")
    lines += [
        "",
        "| author | written | none | watch | high | train | dev | total |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    t, d = Counter(r.author for r in train), Counter(r.author for r in dev)
    for _, author in AUTHORS:
        mine = [r for r in (*train, *dev) if r.author == author and r.source == "written"]
        if not mine:
            continue
        by_level = Counter(r.level for r in mine)
        lines.append(
            f"| `{author}` | {len(mine)} | {by_level['none']} | {by_level['watch']} | {by_level['high']} "
            f"| {t[author]} | {d[author]} | {t[author] + d[author]} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--written", type=Path, default=HERE, help="folder of the hand-written files (AUTHORS)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for train.tsv and dev.tsv")
    parser.add_argument("--seed", type=int, default=SEED, help="seed for the variants and the split")
    parser.add_argument("--stats", action="store_true", help="print the datasheet's count tables")
    args = parser.parse_args(argv)
    train, dev = build(read_all_written(args.written), args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_tsv(args.out / "train.tsv", train)
    write_tsv(args.out / "dev.tsv", dev)
    total = len(train) + len(dev)
    written = sum(r.source == "written" for r in (*train, *dev))
    print(f"train {len(train)}, dev {len(dev)}, total {total}; written {written}, variants {total - written}")
    if args.stats:
        print(stats(train, dev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
