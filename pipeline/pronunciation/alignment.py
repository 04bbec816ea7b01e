"""Expected vs heard pronunciation, aligned phoneme by phoneme and judged syllable by syllable.

Both sides are sequences of IPA symbols grouped in syllables (``ipa.syllable_symbols``): the
expected side from the target sentence's standard pronunciation, the heard side from the
transcript's standard pronunciation or from a phoneme recogniser. A weighted edit distance
(Levenshtein with a backtrace; hand-written, it is a few lines) aligns the two symbol strings:
a near miss (ㄱ/ㄲ/ㅋ, ㅓ/ㅗ, ɾ/l) costs less than an unrelated substitution, and a vowel is
never traded for a consonant cheaply, so syllables line up even when words are missing or added.

Each expected syllable is then ``correct`` (every symbol matched), ``substituted`` (some symbols
differ; ``heard`` says what was heard instead), or ``omitted`` (nothing of it was heard); heard
syllables that match nothing are reported as ``inserted`` after the expected syllable they follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.pronunciation.ipa import GLIDE_SYMBOLS, VOWEL_SYMBOLS, WORD_BOUNDARY

CORRECT = "correct"
SUBSTITUTED = "substituted"
OMITTED = "omitted"
INSERTED = "inserted"

# Groups of symbols that are easy to confuse; a substitution inside a group is a near miss.
_NEAR_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"k", "k͈", "kʰ", "k̚"}),
    frozenset({"t", "t͈", "tʰ", "t̚"}),
    frozenset({"p", "p͈", "pʰ", "p̚"}),
    frozenset({"tɕ", "tɕ͈", "tɕʰ"}),
    frozenset({"s", "s͈"}),
    frozenset({"ɾ", "l", "n"}),
    frozenset({"n", "m", "ŋ"}),
    frozenset({"ʌ", "o", "ɯ", "u"}),
    frozenset({"ɛ", "e"}),
    frozenset({"ø", "e", "y", "i"}),
    frozenset({"ɯ", "i"}),
    frozenset({"j", "w", "ɰ"}),
)
_NEAR_COST = 0.6
_SUB_COST = 1.0
_CROSS_COST = 1.8  # vowel ↔ consonant
_GAP_COST = 1.0
_GAP_EXTEND = 0.9
_WORD_START_BONUS = 0.01


def _is_vowel(symbol: str) -> bool:
    return symbol in VOWEL_SYMBOLS


def substitution_cost(a: str, b: str) -> float:
    """Cost of hearing ``b`` where ``a`` was expected (0 when equal)."""
    if a == b:
        return 0.0
    if _is_vowel(a) != _is_vowel(b) and not (a in GLIDE_SYMBOLS or b in GLIDE_SYMBOLS):
        return _CROSS_COST
    if any(a in g and b in g for g in _NEAR_GROUPS):
        return _NEAR_COST
    return _SUB_COST


@dataclass(frozen=True)
class Unit:
    """One syllable of one side.

    Attributes:
        text: the syllable in Hangul as pronounced (may be "" for recogniser output without Hangul).
        symbols: its IPA symbols.
        index: for expected syllables, the character index in the target's ``spoken``/``hangul``.
        spelled: the written syllable (expected side) or the transcript syllable (heard side).
    """

    text: str
    symbols: tuple[str, ...]
    index: int = -1
    spelled: str = ""


@dataclass(frozen=True)
class PhonemeError:
    """One symbol that differs: ``heard`` is "" when the expected symbol was not heard."""

    expected: str
    heard: str


@dataclass(frozen=True)
class SyllableAlignment:
    """How one expected syllable was heard.

    Attributes:
        expected: the expected ``Unit``.
        status: ``correct``, ``substituted`` or ``omitted``.
        heard: the heard syllables aligned to it (Hangul, joined), "" when omitted.
        heard_symbols: the heard IPA symbols aligned to its symbols, in order.
        matched: fraction (0..1) of its symbols heard exactly.
        errors: the symbols that differ.
    """

    expected: Unit
    status: str
    heard: str
    heard_symbols: tuple[str, ...]
    matched: float
    errors: tuple[PhonemeError, ...] = ()


@dataclass(frozen=True)
class Insertion:
    """A heard syllable with no expected counterpart, after expected syllable ``after`` (-1: first)."""

    after: int
    heard: Unit


@dataclass(frozen=True)
class Alignment:
    """The whole comparison; ``distance`` is the weighted edit distance in symbols."""

    syllables: tuple[SyllableAlignment, ...]
    insertions: tuple[Insertion, ...] = field(default_factory=tuple)
    distance: float = 0.0

    @property
    def completeness(self) -> float:
        """Fraction (0..1) of expected syllables not omitted (1.0 when nothing was expected)."""
        if not self.syllables:
            return 1.0
        return sum(s.status != OMITTED for s in self.syllables) / len(self.syllables)

    @property
    def phoneme_accuracy(self) -> float:
        """Fraction (0..1) of expected symbols heard exactly."""
        total = sum(len(s.expected.symbols) for s in self.syllables)
        if not total:
            return 1.0
        return sum(s.matched * len(s.expected.symbols) for s in self.syllables) / total


def _flatten(units: Sequence[Unit]) -> tuple[list[str], list[int], frozenset[int]]:
    """Symbols, the unit each belongs to, and the positions of first symbols of words.

    A unit starts a word when it is the first one or its ``index`` does not follow the previous
    unit's (a space lay between them).
    """
    symbols: list[str] = []
    owners: list[int] = []
    word_starts: set[int] = set()
    for k, unit in enumerate(units):
        starts_word = k == 0 or (unit.index >= 0 and unit.index != units[k - 1].index + 1)
        for symbol in unit.symbols:
            if symbol == WORD_BOUNDARY:
                continue
            if starts_word:
                word_starts.add(len(symbols))
                starts_word = False
            symbols.append(symbol)
            owners.append(k)
    return symbols, owners, frozenset(word_starts)


def edit_operations(
    expected: Sequence[str],
    heard: Sequence[str],
    expected_word_starts: frozenset[int] = frozenset(),
    heard_word_starts: frozenset[int] = frozenset(),
) -> tuple[float, list[tuple[int | None, int | None]]]:
    """Weighted alignment of two symbol sequences (edit distance with affine gaps, Gotoh).

    A run of missing or extra symbols costs ``_GAP_COST`` for its first symbol and a little less
    for each further one, so a skipped word is one run rather than pieces scattered over
    neighbouring syllables that happen to share a vowel. Between equally good runs, one that starts
    at the first symbol of a word (``*_word_starts``) wins: a skipped word, not the tail of one
    and the head of the next.

    Returns:
        ``(distance, ops)`` where each op is ``(i, j)``: both set for a match or substitution,
        ``(i, None)`` for a deletion (expected symbol i not heard), ``(None, j)`` for an insertion.
    """
    n, m = len(expected), len(heard)
    inf = float("inf")
    # Three states: 0 = last op matched/substituted, 1 = deletion run, 2 = insertion run.
    cost = [[[inf] * (m + 1) for _ in range(n + 1)] for _ in range(3)]
    back = [[[0] * (m + 1) for _ in range(n + 1)] for _ in range(3)]
    cost[0][0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if i and j:
                prev = [cost[k][i - 1][j - 1] for k in range(3)]
                k = min(range(3), key=prev.__getitem__)
                cost[0][i][j] = prev[k] + substitution_cost(expected[i - 1], heard[j - 1])
                back[0][i][j] = k
            if i:
                gap = _GAP_COST - (_WORD_START_BONUS if i - 1 in expected_word_starts else 0.0)
                options = [cost[0][i - 1][j] + gap, cost[1][i - 1][j] + _GAP_EXTEND, cost[2][i - 1][j] + gap]
                k = min(range(3), key=options.__getitem__)
                cost[1][i][j], back[1][i][j] = options[k], k
            if j:
                gap = _GAP_COST - (_WORD_START_BONUS if j - 1 in heard_word_starts else 0.0)
                options = [cost[0][i][j - 1] + gap, cost[1][i][j - 1] + gap, cost[2][i][j - 1] + _GAP_EXTEND]
                k = min(range(3), key=options.__getitem__)
                cost[2][i][j], back[2][i][j] = options[k], k
    state = min(range(3), key=lambda k: cost[k][n][m])
    distance = cost[state][n][m] if n or m else 0.0
    ops: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        previous = back[state][i][j]
        if state == 0:
            ops.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif state == 1:
            ops.append((i - 1, None))
            i -= 1
        else:
            ops.append((None, j - 1))
            j -= 1
        state = previous
    ops.reverse()
    return distance, ops


def align(expected: Sequence[Unit], heard: Sequence[Unit]) -> Alignment:
    """Align heard syllables to expected ones (see the module docstring)."""
    exp_symbols, exp_owner, exp_starts = _flatten(expected)
    heard_symbols, heard_owner, heard_starts = _flatten(heard)
    distance, ops = edit_operations(exp_symbols, heard_symbols, exp_starts, heard_starts)

    per_syllable: list[list[tuple[int | None, int | None]]] = [[] for _ in expected]
    heard_used: set[int] = set()  # heard syllables aligned to some expected symbol
    last_expected = -1
    pending_inserts: list[tuple[int, int]] = []  # (after expected syllable, heard symbol)
    for i, j in ops:
        if i is not None:
            owner = exp_owner[i]
            per_syllable[owner].append((i, j))
            last_expected = owner
            if j is not None:
                heard_used.add(heard_owner[j])
        elif j is not None:
            pending_inserts.append((last_expected, j))

    syllables: list[SyllableAlignment] = []
    for k, unit in enumerate(expected):
        pairs = per_syllable[k]
        if not pairs:
            syllables.append(SyllableAlignment(unit, CORRECT if not unit.symbols else OMITTED, "", (), 1.0))
            continue
        heard_here = [heard_symbols[j] for _, j in pairs if j is not None]
        errors = tuple(
            PhonemeError(exp_symbols[i], heard_symbols[j] if j is not None else "")
            for i, j in pairs
            if i is not None and (j is None or heard_symbols[j] != exp_symbols[i])
        )
        matched = 1.0 - len(errors) / len(pairs)
        owners: list[int] = []
        for _, j in pairs:
            if j is not None and heard_owner[j] not in owners:
                owners.append(heard_owner[j])
        heard_text = "".join(heard[o].text for o in owners)
        if not heard_here:
            status = OMITTED
        elif errors:
            status = SUBSTITUTED
        else:
            status = CORRECT
        syllables.append(SyllableAlignment(unit, status, heard_text, tuple(heard_here), round(matched, 4), errors))

    insertions: list[Insertion] = []
    seen: set[int] = set()
    for after, j in pending_inserts:
        owner = heard_owner[j]
        if owner in heard_used or owner in seen:
            continue
        seen.add(owner)
        insertions.append(Insertion(after, heard[owner]))
    return Alignment(tuple(syllables), tuple(insertions), round(distance, 3))
