"""Hybrid risk assessment: the phrase rules plus a trained classifier over the whole sentence.

``RiskAssessor.assess(text)`` runs the rules (``pipeline.care.risk.assess_risk``: exact, quoted
phrases) and a classifier that reads the meaning of the whole sentence (``RiskHead``: the
multilingual-e5-small query embedding and character n-grams, as the emotion head; see
``training/train_risk_head.py``). The result errs towards safety:

* the level is the higher of the two;
* a classifier-only signal gives at least ``watch`` once the probability that the sentence is a
  risk statement (``watch`` or ``high``) reaches ``watch_threshold``, and ``high`` only when the
  probability of ``high`` reaches ``high_threshold``. Both thresholds were calibrated by the
  training script on out-of-fold predictions of the training split and travel in the head file;
* where the rules recognised a look-alike and let it go or lowered it (an idiom such as 배고파
  죽겠어요, a film, a resolved past, a denial such as 죽고 싶다는 생각은 한 번도 해 본 적 없어요),
  the classifier may say ``watch`` at most: the rule knows the idiom, the classifier only knows
  the word;
* a phrase of imminence the rules found (지금 다리 위야, 오늘 밤에 할 거예요: a place, means in
  hand, a time set) makes the turn ``high`` with ``imminent`` beside any other risk signal (the
  rules' ``watch`` or the classifier's): the classifier knows what "it" is, the rules know when.
  Alone, such a phrase raises nothing (오늘 밤에 할 거예요 may be homework);
* the head's imminence probe (a logistic regression on the e5 embedding, trained on the ``high``
  rows) marks a ``high`` turn ``imminent`` when it reads danger right now in a way no phrase
  rule names (신발 신고 현관 앞이에요 오늘로 끝이에요); it never raises the level itself;
* a head may carry a neighbour signal (``knn_weight`` in its metadata, the corpus embeddings
  beside its weights): the cosine to the nearest corpus risk statement minus that to the nearest
  look-alike moves both probabilities in logit space before the thresholds (chosen by the
  leave-one-author-out check: a new author's wording often has a close neighbour among other
  authors' sentences); the shipped v3 head has none;
* every signal is a reason a counsellor can read: the rules' phrases as the client said them, and
  for the classifier one Korean line such as ``문장 전체의 의미(자동 분류): 자살 위험 0.91``.

The classifier shares the e5 embedding with the emotion head (``E5Embedder`` remembers the last
sentences), so it adds a few tenths of a millisecond to a turn. If it cannot load, the rules run
alone and the failure is logged; a turn is never lost to it.
"""

from __future__ import annotations

import logging
import math
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from pipeline.care.risk import CATEGORIES, MODIFIER_CATEGORIES, assess_details, compose, decompose
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.text.e5 import E5Embedder, shared_embedder
from pipeline.text.e5_head import CharNgramVectorizer, E5Head, char_ngrams
from pipeline.types import RISK_LEVELS, Risk

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]

#: Korean names of the categories, for the classifier's reason line.
CATEGORY_NAMES_KO: dict[str, str] = {
    "suicide": "자살",
    "self_harm": "자해",
    "harm_to_others": "타인 위해",
    "abuse": "학대·폭력 피해",
    "child_at_risk": "아동 학대",
    "school_violence": "학교폭력",
    "medical": "응급 의료",
    "imminent": "급박한 상황",
    "caregiver": "돌봄 소진",
}

#: The prefix of the classifier's reason, so that a counsellor can tell it from a quoted phrase.
CLASSIFIER_REASON = "문장 전체의 의미(자동 분류)"

#: Values of the ``risk_classifier`` setting.
CLASSIFIER_CHOICES = ("auto", "e5-head", "rules")

_RANK = {level: i for i, level in enumerate(RISK_LEVELS)}


def default_risk_head_path() -> Path:
    """The head shipped with the package (``pipeline/assets/risk_head.npz``)."""
    return Path(str(resources.files("pipeline") / "assets" / "risk_head.npz"))


def joint_label(level: str, categories: Sequence[str]) -> str:
    """The head's class for a labelled row: ``none``, or ``<level>:<main category>``.

    The main category is the first one that is not a modifier (``suicide,imminent`` → ``suicide``).

    Raises:
        ValueError: an unknown level or category, or a risk level without a main category.
    """
    if level not in RISK_LEVELS:
        raise ValueError(f"unknown risk level {level!r}")
    if level == "none":
        return "none"
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown risk categories {unknown}")
    main = [c for c in categories if c not in MODIFIER_CATEGORIES]
    if not main:
        raise ValueError(f"a {level} row needs a category other than {sorted(MODIFIER_CATEGORIES)}")
    return f"{level}:{main[0]}"


@dataclass(frozen=True)
class ClassifierSignal:
    """What the classifier read in one sentence.

    Attributes:
        p_risk: probability that the sentence is a risk statement (``watch`` or ``high``).
        p_high: probability that it is ``high``.
        category: the most probable category among the risk classes.
        level: ``none``, ``watch`` or ``high`` after the head's thresholds.
        p_imminent: probability that a ``high`` statement is about danger right now (the head's
            imminence probe; 0 for a head without one).
        imminent: ``level`` is ``high`` and ``p_imminent`` reached the probe's threshold.
    """

    p_risk: float
    p_high: float
    category: str
    level: str
    p_imminent: float = 0.0
    imminent: bool = False

    @property
    def reason(self) -> str:
        """The Korean line a counsellor reads, with the probability that decided the level."""
        p = self.p_high if self.level == "high" else self.p_risk
        line = f"{CLASSIFIER_REASON}: {CATEGORY_NAMES_KO[self.category]} 위험 {p:.2f}"
        if self.imminent:
            line += f", {CATEGORY_NAMES_KO['imminent']} {self.p_imminent:.2f}"
        return line


#: Similar-sounding jamo read as one in the ``sound`` view (what a recogniser confuses): initials by
#: manner (plain, aspirated, tense), a few vowel pairs, and finals by their seven sounds.
_SOUND_INITIAL = {
    "ㄲ": "ㄱ", "ㅋ": "ㄱ", "ㄸ": "ㄷ", "ㅌ": "ㄷ", "ㅃ": "ㅂ", "ㅍ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ", "ㅊ": "ㅈ",
}  # fmt: skip
_SOUND_MEDIAL = {"ㅐ": "ㅔ", "ㅒ": "ㅖ", "ㅙ": "ㅚ", "ㅞ": "ㅚ"}
_SOUND_FINAL = {
    **dict.fromkeys("ㄲㅋㄳㄺ", "ㄱ"), **dict.fromkeys("ㄵㄶ", "ㄴ"), **dict.fromkeys("ㅅㅆㅈㅊㅌㅎ", "ㄷ"),
    **dict.fromkeys("ㄼㄽㄾㅀ", "ㄹ"), "ㄻ": "ㅁ", **dict.fromkeys("ㅍㅄㄿ", "ㅂ"),
}  # fmt: skip

#: The views of a sentence whose character n-grams a risk head may read (``lexical_views``).
LEXICAL_VIEWS = ("compact", "sound")


def sound_spelling(text: str) -> str:
    """Each Hangul syllable with similar-sounding jamo merged, as a recogniser confuses them.

    죽꼬 and 죽고, 햇어 and 했어, 돼 and 되 meet; 송목 and 손목 stay apart (the rules' near-miss
    table knows that one).
    """
    out = []
    for ch in text:
        if "가" <= ch <= "힣":
            initial, medial, final = decompose(ch)
            ch = compose(
                _SOUND_INITIAL.get(initial, initial), _SOUND_MEDIAL.get(medial, medial), _SOUND_FINAL.get(final, final)
            )
        out.append(ch)
    return "".join(out)


class RiskNgramVectorizer(CharNgramVectorizer):
    """Character n-grams of the words (as the emotion head) plus those of other views of the sentence.

    ``compact``: the sentence with its spaces removed, so n-grams cross word edges the recogniser
    may merge or split (죽고싶다, 죽 고 싶다), marked ``|``; ``sound``: the words in
    ``sound_spelling``, marked ``~``. Pure Python on one sentence: a fraction of a millisecond.
    """

    def __init__(self, vocab: Sequence[str], idf: np.ndarray, max_n: int = 3, views: Sequence[str] = ()) -> None:
        super().__init__(vocab, idf, max_n)
        unknown = [v for v in views if v not in LEXICAL_VIEWS]
        if unknown:
            raise ModelFilesError(detail=f"unknown lexical views {unknown}; known: {list(LEXICAL_VIEWS)}")
        self.views = tuple(views)

    def grams(self, text: str) -> list[str]:
        """The n-grams of every view of ``text``."""
        grams = char_ngrams(text, self.max_n)
        if "compact" in self.views:
            compact = "".join(unicodedata.normalize("NFKC", text).lower().split())
            grams += ["|" + g for g in char_ngrams(compact, self.max_n) if len(g.strip()) > 1]
        if "sound" in self.views:
            grams += ["~" + g for g in char_ngrams(sound_spelling(unicodedata.normalize("NFKC", text)), self.max_n)]
        return grams

    @classmethod
    def fit_views(cls, texts: Iterable[str], views: Sequence[str], min_df: int = 2, max_n: int = 3):
        """As ``CharNgramVectorizer.fit``, over the n-grams of every view."""
        return cls.fit(texts, min_df, max_n, views=views)


class RiskHead(E5Head):
    """An ``E5Head`` whose classes are ``none`` and ``<level>:<category>`` (see ``joint_label``).

    The thresholds live in the file's metadata (``watch_threshold``, ``high_threshold``), and so
    does the optional imminence probe: a logistic regression on the e5 embedding that tells a
    ``high`` statement about danger right now (지금 다리 위예요) from other ``high`` statements
    (``imminent_weights``, ``imminent_bias``, ``imminent_threshold``). The joint classes cannot
    carry it: ``imminent`` rows are too few per category, so the head never learned it.
    """

    kind = "risk head"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for label in self.labels:
            level, _, category = label.partition(":")
            if label != "none" and (level not in ("watch", "high") or category not in CATEGORIES):
                raise ModelFilesError(detail=f"risk head label {label!r} is not none or <level>:<category>")
        if "none" not in self.labels:
            raise ModelFilesError(detail="risk head has no 'none' class")
        self._high = np.array([label.startswith("high:") for label in self.labels])
        self._risk = np.array([label != "none" for label in self.labels])

    @classmethod
    def load(cls, path: str | Path) -> RiskHead:
        """Read a head written by ``save``; a head with ``lexical_views`` in its metadata reads those views too.

        Raises:
            ModelFilesError: as ``E5Head.load``, or unknown views.
        """
        head = super().load(path)
        views = head.meta.get("lexical_views") or ()
        if views and head.vectorizer is not None:
            v = head.vectorizer
            head.vectorizer = RiskNgramVectorizer(v.vocab, v.idf, v.max_n, views)
        if "knn_weight" in head.meta:
            try:
                with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                    vectors, risky = data["knn_vectors"].astype(np.float32), data["knn_risky"].astype(bool)
            except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise ModelFilesError(detail=f"cannot read the neighbours of {path}: {exc}") from exc
            if vectors.ndim != 2 or vectors.shape[1] != head.layers[0][0].shape[1] or len(vectors) != len(risky):
                raise ModelFilesError(detail=f"the neighbours of {path} do not fit the head")
            head.neighbours, head._parts = (vectors, risky), None
        assert isinstance(head, RiskHead)
        return head

    def save(self, path: str | Path, **extra_meta: object) -> None:
        """As ``E5Head.save``, with the n-gram views and the neighbours (if any)."""
        views = getattr(self.vectorizer, "views", ())
        if self.neighbours is not None:
            extra_meta = {"knn_weight": float(self.meta["knn_weight"]), **extra_meta}
        super().save(path, **({"lexical_views": list(views)} if views else {}), **extra_meta)
        if self.neighbours is not None:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            vectors, risky = self.neighbours
            np.savez(path, **arrays, knn_vectors=vectors.astype(np.float16), knn_risky=risky)

    @property
    def thresholds(self) -> tuple[float, float]:
        """(watch_threshold, high_threshold) from the metadata; (0.5, 0.5) when absent."""
        return float(self.meta.get("watch_threshold", 0.5)), float(self.meta.get("high_threshold", 0.5))

    def signals(self, embeddings: np.ndarray, texts: Sequence[str], thresholds: tuple[float, float] | None = None):
        """(n, 384) embeddings of ``texts`` → one ``ClassifierSignal`` per text.

        Args:
            embeddings: e5 query embeddings of ``texts``.
            texts: the sentences.
            thresholds: (watch, high); the head's own when omitted.
        """
        watch_t, high_t = thresholds or self.thresholds
        probs = self.probabilities(embeddings, texts)
        p_imminent = self.imminence(embeddings)
        imminent_t = float(self.meta.get("imminent_threshold", 1.0))
        shift = self.neighbour_shift(embeddings)
        out = []
        for p, p_imm, z in zip(probs, p_imminent, shift, strict=True):
            p_risk = _moved(float(p[self._risk].sum()), z)
            p_high = _moved(float(p[self._high].sum()), z)
            by_category: dict[str, float] = {}
            for label, value in zip(self.labels, p, strict=True):
                if label != "none":
                    category = label.partition(":")[2]
                    by_category[category] = by_category.get(category, 0.0) + float(value)
            category = max(by_category, key=by_category.__getitem__)
            level = "high" if p_high >= high_t and p_risk >= watch_t else "watch" if p_risk >= watch_t else "none"
            imminent = level == "high" and float(p_imm) >= imminent_t
            out.append(ClassifierSignal(p_risk, p_high, category, level, float(p_imm), imminent))
        return out

    #: The head's corpus rows for the neighbour signal: (m, 384) float32 e5 embeddings and whether
    #: each is a risk statement; ``None`` for a head without one.
    neighbours: tuple[np.ndarray, np.ndarray] | None = None
    _parts: tuple[np.ndarray, np.ndarray] | None = None

    def neighbour_shift(self, embeddings: np.ndarray) -> np.ndarray:
        """(n,) logit shift of the neighbour signal; zeros for a head without neighbours.

        ``knn_weight`` × (highest cosine to a risk row of the corpus − highest cosine to a
        look-alike). A sentence whose nearest corpus sentences are risk statements moves up, one whose nearest
        are look-alikes moves down: a new author's wording that the linear parts miss often has a
        close neighbour among the other authors' sentences. One (n, m) product: about a millisecond.
        """
        if self.neighbours is None:
            return np.zeros(len(embeddings))
        x = np.asarray(embeddings, dtype=np.float32)
        nearest = []
        for part in self._neighbour_parts:
            # A turn's single sentence: einsum's own loop (~0.5 ms), not a BLAS thread pool that
            # waits on busy cores (16 ms at a load of 7); batches (training, evaluation): BLAS.
            sims = np.einsum("nj,mj->nm", x, part) if len(x) <= 4 else x @ part.T
            nearest.append(sims.max(axis=1))
        return float(self.meta["knn_weight"]) * (nearest[0] - nearest[1])

    @property
    def _neighbour_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """(risk rows, look-alike rows) of the neighbours, each contiguous."""
        if self._parts is None and self.neighbours is not None:
            vectors, risky = self.neighbours
            self._parts = (np.ascontiguousarray(vectors[risky]), np.ascontiguousarray(vectors[~risky]))
        return self._parts

    def set_neighbours(self, embeddings: np.ndarray, levels: Sequence[str], weight: float) -> None:
        """Keep the corpus rows (their e5 embeddings and levels) for the neighbour signal, weighed ``weight``."""
        risky = np.array([level != "none" for level in levels])
        if not risky.any() or risky.all():
            raise ValueError("the neighbour signal needs both risk statements and look-alikes")
        self.neighbours = (np.asarray(embeddings, dtype=np.float16).astype(np.float32), risky)
        self._parts = None
        self.meta["knn_weight"] = float(weight)

    def imminence(self, embeddings: np.ndarray) -> np.ndarray:
        """(n,) probabilities of the imminence probe; zeros for a head without one."""
        weights = self.meta.get("imminent_weights")
        if weights is None:
            return np.zeros(len(embeddings))
        z = np.asarray(embeddings, dtype=np.float64) @ np.asarray(weights) + float(self.meta["imminent_bias"])
        return 1.0 / (1.0 + np.exp(-z))


def _moved(p: float, z: float) -> float:
    """``p`` moved by ``z`` in logit space (unchanged when ``z`` is 0)."""
    if not z:
        return p
    q = min(max(p, 1e-9), 1 - 1e-9)
    return 1.0 / (1.0 + math.exp(-(math.log(q / (1 - q)) + z)))


def combine(
    rules: Risk, signal: ClassifierSignal | None, *, softened: bool = False, imminent: Sequence[str] = ()
) -> Risk:
    """The hybrid verdict of the rules and the classifier (see the module docstring).

    Args:
        rules: what ``assess_risk`` found.
        signal: what the classifier read; ``None`` when it is off or failed.
        softened: the rules matched a risk phrase and let it go or lowered it as a look-alike
            (idiom, film, resolved past, denial); the classifier may then say ``watch`` at most.
        imminent: phrases of imminence the rules saw (``RuleAssessment.imminent``). Beside any
            risk signal (the rules' ``watch``, or the classifier at ``watch`` or more) they make the
            turn ``high`` and add ``imminent``: "오늘 밤에 할 거예요 다 준비했어요" is a plan with a
            time, whichever signal says what "it" is. Alone they raise nothing.

    Returns:
        The higher level of the two, the rules' reasons plus the imminence phrases and the
        classifier's line where they counted, and the categories in the shared order (the
        classifier's category only where it raised the level or the rules named none).
    """
    flagged = signal is not None and signal.level != "none"
    level = signal.level if flagged else "none"
    if flagged and softened:
        level = "watch"
    urgent = (
        bool(imminent)
        and "imminent" not in rules.categories
        and (rules.level != "none" or flagged)
        and not (softened and rules.level == "none")
    )
    if urgent:
        level = "high"
    if level == "none":
        return rules
    combined = max(rules.level, level, key=_RANK.__getitem__)
    categories = set(rules.categories)
    if flagged and (_RANK[level] > _RANK[rules.level] or not categories):
        categories.add(signal.category)
    if flagged and signal.imminent and combined == "high":
        categories.add("imminent")  # the probe reads "now" in a high statement, whoever found it high
    reasons = list(rules.reasons)
    if urgent:
        categories.add("imminent")
        reasons.extend(p for p in imminent if p not in reasons)
    if flagged:
        reasons.append(signal.reason)
    return Risk(
        level=combined,
        reasons=tuple(reasons),
        categories=tuple(sorted(categories, key=CATEGORIES.index)),
    )


class RiskAssessor:
    """Rules + classifier, built once by the ``Pipeline``; ``assess`` is what a turn calls first.

    Args:
        head: the trained classifier; ``None`` for rules only.
        embed: (n,) texts → (n, 384) e5 query embeddings (the shared embedder in production, a
            stand-in in tests); needed with ``head``.
    """

    def __init__(self, head: RiskHead | None = None, embed: Embed | None = None) -> None:
        if head is not None and embed is None:
            raise ValueError("a risk head needs an embedder")
        self.head = head
        self.embed = embed

    @property
    def uses_classifier(self) -> bool:
        """Whether a trained head reads the text too (else phrase rules alone)."""
        return self.head is not None

    @classmethod
    def from_settings(
        cls, settings: Settings, embed: Embed | None = None, *, embedder: Callable[[], E5Embedder] | None = None
    ) -> RiskAssessor:
        """The assessor the settings ask for; rules only (and the cause logged) if the head cannot load.

        ``risk_classifier``: ``e5-head`` always loads the head; ``rules`` never does; ``auto`` loads
        it when the emotion classifier is ``e5-head`` (the embedding is then computed anyway).

        Args:
            settings: ``risk_classifier``, ``risk_head`` and ``classifier``.
            embed: a ready embedding function (tests); else ``embedder``'s queries.
            embedder: returns the e5 model to share (``Pipeline.embedder``), called only when the
                head loads; ``shared_embedder`` when omitted.
        """
        choice = settings.risk_classifier
        if choice not in CLASSIFIER_CHOICES:
            raise ValueError(f"unknown risk_classifier {choice!r}; valid: {list(CLASSIFIER_CHOICES)}")
        if choice == "rules" or (choice == "auto" and settings.classifier != "e5-head"):
            return cls()
        try:
            head = RiskHead.load(settings.risk_head or default_risk_head_path())
            if embed is None:
                embed = (embedder or shared_embedder)().embed_queries
        except Exception:  # noqa: BLE001 - the rules must still run; the cause goes to the log
            log.exception("risk classifier unavailable; assessing risk with the rules only")
            return cls()
        return cls(head, embed)

    def classify(self, text: str) -> ClassifierSignal | None:
        """The classifier's reading of ``text``; ``None`` without a head, for empty text, or on failure."""
        if self.head is None or self.embed is None or not text.strip():
            return None
        try:
            return self.head.signals(self.embed([text]), [text])[0]
        except Exception:  # noqa: BLE001 - never lose a turn to the classifier
            log.exception("risk classifier failed; this turn is assessed with the rules only")
            return None

    def assess(self, text: str) -> Risk:
        """Assess one utterance: rules, classifier, and their combination (see ``combine``)."""
        start = time.perf_counter()
        details = assess_details(text)
        risk = combine(details.risk, self.classify(text), softened=details.softened, imminent=details.imminent)
        log.debug("risk %s in %.1f ms", risk.level, (time.perf_counter() - start) * 1e3)
        return risk

    def assess_rules_only(self, text: str) -> Risk:
        """The rules' verdict alone (for comparisons)."""
        return assess_details(text).risk
