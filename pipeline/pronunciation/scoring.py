"""Score a recording against the sentence the learner meant to read: the scorer and its rating.

Three kinds of evidence, combined per syllable of the target sentence:

1. **What was heard.** The configured ``Transcriber`` (Whisper by default) writes what it heard;
   that text goes through the same standard pronunciation (``g2p.pronounce``) as the target, and
   the two are aligned phoneme by phoneme (``alignment.align``). When ``MAUM_PHONEME_MODEL`` names
   a phoneme recogniser (an IPA DeepSpeech2 checkpoint or a wav2vec2 phoneme CTC folder), its IPA
   output replaces the transcript: no spelling correction can hide a wrong sound then.
2. **Acoustic evidence for the target.** Whisper, forced to read the *target* text over the
   recording (CTranslate2 ``Whisper.align``), gives each target token a probability; a mumbled or
   wrong syllable gets a low one even when the transcript was auto-corrected to the right spelling.
   Token probabilities are mapped back to syllables through the tokenizer's character offsets.
   When the scorer is built with ``rivals=True`` (not yet in the app: see the README's figures)
   and the evidence can ``weigh`` hypotheses (``WhisperEvidence.weigh``), the same encoding also
   scores every learner-like variant of the target (``variants.hypotheses``: one syllable changed,
   dropped or doubled, a rule not applied, ㄹ/ㄴ or a final swapped): Whisper's language model
   writes what a word *should* be, so a slip vanishes from the transcript and barely dents the
   target's probability, but a variant that says the slip fits the audio better than the target
   does (``best_rivals``, ``judge_syllable``'s ``margin``).
3. **A phoneme head that listens** (``phoneme_head.py``, when its file is shipped and the
   evidence offers ``phoneme_posteriors``: ``WhisperEvidence`` with the head loaded). A small CTC
   head on Whisper's *encoder* frames gives phoneme posteriors with no word prior; the target's
   phoneme sequence is weighed against every learner-like variant (``head_rivals``), and a
   syllable is wrong when a variant fits the audio better by ``HEAD_WRONG[kind]`` nats. This is
   the evidence that catches a planted 머커써요 that the decoder "hears" as 먹었어요. On a
   recording that ``quality.assess`` measures as band-limited (a telephone) or noisy, the head's
   "wrong" becomes "unsure" unless Whisper's forced alignment and the transcript say wrong by
   themselves, and the summary tells the learner that the recording limited the verdicts.
4. **Timing.** The Silero VAD bundled with faster-whisper finds the stretches of speech: speech
   rate (syllables per second of speaking) and long pauses (≥ ``LONG_PAUSE_S``): ``fluency.py``.

The evidence comes in through two seams (``pipeline.stages``): ``AcousticEvidence``
(``pipeline/backends/whisper_evidence.py``) and ``PhonemeRecognizer`` (chosen by
``registry.load_phoneme_recognizer``); the ``Pipeline`` builds both and owns the scorer
(``Pipeline.score_reading``). The result types live in ``results.py``.

Verdicts per syllable (``judge_syllable``) put the acoustics of the target first and the
transcript second: good when the audio supports the target, wrong only when it does not *and*
something else was heard there, unsure in between, and ``unjudgeable`` for every syllable when the
recording is too unclear to judge (``estimate_snr_db``, no speech, an unsure transcript). The
thresholds were calibrated on the calibration split of ``tests/data/pronunciation_set``
(``benchmarks/pronunciation_bench.py``).

Scores are 0–100: ``accuracy`` (per-syllable: half the share of phonemes heard right, half the
acoustic probability, when there is one), ``completeness`` (share of syllables heard at all),
``fluency`` ((rate within a comfortable reading range − long pauses) × (the share of the target the
audio supports)²; see ``measure_fluency``), and ``overall`` (0.6·accuracy + 0.2·completeness +
0.2·fluency, fluency counting fully only once accuracy ≥ 60).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import AudioTooLongError, EmptyTextError, TextTooLongError
from pipeline.pronunciation import feedback, variants
from pipeline.pronunciation.alignment import OMITTED, SUBSTITUTED, Alignment, Unit, align
from pipeline.pronunciation.fluency import measure_fluency, speech_stretches
from pipeline.pronunciation.g2p import Pronunciation, pronounce
from pipeline.pronunciation.ipa import WORD_BOUNDARY, ipa_string, syllabify_ipa, syllable_symbols
from pipeline.pronunciation.phoneme_head import HeadEvidence, HeadRival, head_rivals
from pipeline.pronunciation.quality import assess
from pipeline.pronunciation.results import PronunciationScore, SyllableScore
from pipeline.stages import AcousticEvidence, PhonemeRecognizer, Transcriber
from pipeline.types import Audio

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

log = logging.getLogger(__name__)

#: Longest practice recording Whisper can align in one window, in seconds.
MAX_PRACTICE_S = 30.0
#: Longest target sentence, in characters.
MAX_TARGET_CHARS = 200

# Per-syllable acoustic thresholds (probability of the target syllable when Whisper is forced to
# read the target over the recording). Calibrated on the calibration split of
# ``tests/data/pronunciation_set`` (see its README); the holdout was frozen before.
ACOUSTIC_GOOD = 0.30  # at or above: the audio supports the target, whatever the transcript says
ACOUSTIC_POOR = 0.02  # below: the audio does not support it (wrong when something else was heard)
ACOUSTIC_FULL = 0.5  # at or above: full acoustic credit in the 0–100 score
# The whole attempt is too unclear to judge when the recording's signal-to-noise ratio (loud
# frames over quiet ones, ``estimate_snr_db``) is below this and the target's mean acoustic
# probability is below UNCLEAR_ACOUSTIC; or when no speech was found and the transcript is empty
# or unsure (confidence below UNCLEAR_CONFIDENCE). 10–20 dB noise is still judged.
UNCLEAR_SNR_DB = 6.0
UNCLEAR_ACOUSTIC = 0.25
UNCLEAR_CONFIDENCE = 0.45
# A syllable is wrong only where the recogniser follows the speaker: at least WRONG_CONTEXT of the
# other syllables heard and supported (p ≥ ACOUSTIC_GOOD), or at most OTHER_SENTENCE_CONTEXT
# (another sentence read). Calibrated with ACOUSTIC_POOR on the calibration split (``--grid``).
WRONG_CONTEXT = 0.6
OTHER_SENTENCE_CONTEXT = 0.1
OTHER_SENTENCE_CONFIDENCE = 0.5
# Fluency: the rate-and-pause score times the squared share of target syllables the audio supports
# (probability ≥ SUPPORTED); a reading of another sentence covers little and cannot score high.
# A syllable at or above SUPPORTED also counts as said (completeness). Kept apart from
# ACOUSTIC_POOR so that moving the verdict threshold does not move fluency and completeness.
SUPPORTED = 0.02
# Competing hypotheses (``variants.hypotheses``): Whisper, forced to read the target and each
# learner-like variant that differs from it in one syllable, gives each text a log-probability; a
# syllable is wrong when a variant beats the target by at least WRONG_MARGIN[kind] nats more than
# the attempt's median syllable does (``best_rivals``) and the recogniser follows the speaker
# (context ≥ MARGIN_CONTEXT). Calibrated on the calibration split (``--margin-grid``). A smaller
# margin is not made "unsure": on the calibration split a margin of 3 nats as unsure turned 14 %
# more correct syllables unsure (24 % → 38 %) to flag 5 % more planted errors.
# Dropping a syllable shortens the text, which alone raises its log-probability: hence its higher
# margin. A rule not applied is not judged this way: the unapplied form is the word as spelled
# (국물), which Whisper's language model prefers whatever was said (calibration: no margin caught
# one without also blaming correct readings).
WRONG_MARGIN: dict[str, float] = {
    "rule_not_applied": float("inf"),
    "substituted": 2.0,
    "omitted": 6.0,
    "inserted": 2.0,
}
MARGIN_CONTEXT = 0.6
#: Margins below minus this (nats) count as this: a hopeless variant says nothing more.
MARGIN_FLOOR = 20.0
#: Most a syllable scores (0–100) when a learner-like variant beat the target.
BEATEN_SCORE = 40.0
# The phoneme head (``phoneme_head.head_rivals``): a syllable is wrong when a learner-like variant's
# CTC log-likelihood beats the target's by at least HEAD_WRONG[its kind] nats, unsure from
# HEAD_UNSURE_BAND nats below that; a "wrong" from the other evidence stands only when the head
# does not clearly prefer the target there (no variant within HEAD_VETO nats of it). The head
# blames nobody when the target fits the audio poorly as a whole: a per-frame CTC log-likelihood
# below HEAD_MIN_PER_FRAME, lower than any calibration reading's (−0.88, correct ones −0.37), is
# audio the head cannot follow. Calibrated on the calibration split only (``--head-grid``: the
# most planted errors rated wrong with at most 3 % of correct syllables wrong on correct readings,
# beside planted errors, and on the degraded readings; among equal recalls, the margins farthest
# from the correct readings'). A dropped syllable shortens the sequence, which costs CTC little
# when the audio lacks it and much when it has it: hence its own, larger margin.
HEAD_WRONG: dict[str, float] = {
    "rule_not_applied": 3.0,
    "substituted": 6.0,
    "omitted": 30.0,
    "inserted": 12.0,
}
HEAD_UNSURE_BAND = 3.0
HEAD_VETO = 2.0
HEAD_MIN_PER_FRAME = -1.5


# --------------------------------------------------------------------------------------------
# The scorer


def expected_units(pron: Pronunciation) -> list[Unit]:
    """The target's syllables as alignment units (index into ``spoken``/``hangul``)."""
    units: list[Unit] = []
    previous = ""
    for index, char in enumerate(pron.hangul):
        if char == " ":
            previous = ""
            continue
        symbols = tuple(syllable_symbols(previous + char)[-1]) if previous else tuple(syllable_symbols(char)[0])
        units.append(Unit(char, symbols, index, pron.spoken[index]))
        previous = char
    return units


def heard_units_from_text(pron: Pronunciation) -> list[Unit]:
    """The heard transcript's syllables as alignment units (same shape as ``expected_units``)."""
    return expected_units(pron)


def heard_units_from_phonemes(symbols: Sequence[str]) -> list[Unit]:
    """Recogniser IPA output as alignment units (syllables guessed by ``ipa.syllabify_ipa``)."""
    return [Unit(text, syms) for text, syms in syllabify_ipa(symbols)]


class PronunciationScorer:
    """Scores recordings against target sentences (see the module docstring).

    Args:
        transcriber: the configured ``Transcriber`` (used when there is no phoneme recogniser).
        evidence: acoustic evidence for target tokens (``WhisperEvidence``), or None.
        phoneme_recognizer: replaces the transcript path when given.
        stretches: finds the stretches of speech, ``(start_s, end_s)`` each (``speech_stretches``
            by default: the Silero VAD).
        rivals: also weigh learner-like rivals (``best_rivals``) when the evidence can ``weigh``.
            Off by default: on the frozen holdout_v2 it raised recall of planted errors from 16 %
            to 25 % but marked 7.9 % of correct syllables wrong (2.6 % without), 12–19 % of the
            human NIKL readings' (see README); the calibration split has no human speech.
        kiwi: the Kiwi that reads the standard pronunciation of target and transcript (the
            ``Pipeline``'s); ``pipeline.text.morphology.shared_kiwi()`` when None.
    """

    def __init__(
        self,
        transcriber: Transcriber | None = None,
        evidence: AcousticEvidence | None = None,
        phoneme_recognizer: PhonemeRecognizer | None = None,
        stretches: Callable[[Audio], list[tuple[float, float]]] | None = None,
        rivals: bool = False,
        kiwi: Kiwi | None = None,
    ) -> None:
        if transcriber is None and phoneme_recognizer is None:
            raise ValueError("a scorer needs a transcriber or a phoneme recogniser")
        self.transcriber = transcriber
        self.evidence = evidence
        self.phoneme_recognizer = phoneme_recognizer
        self.stretches = stretches or speech_stretches
        self.rivals = rivals
        self.kiwi = kiwi

    def score(self, audio: Audio, text: str) -> PronunciationScore:
        """Score ``audio`` (16 kHz mono float32) as a reading of ``text``.

        Raises:
            EmptyTextError: the target has no Korean to read.
            TextTooLongError: the target is longer than ``MAX_TARGET_CHARS``.
            AudioTooLongError: the recording is longer than ``MAX_PRACTICE_S``.
        """
        if len(text) > MAX_TARGET_CHARS:
            raise TextTooLongError(MAX_TARGET_CHARS)
        if audio.duration_s > MAX_PRACTICE_S + 0.01:
            raise AudioTooLongError(MAX_PRACTICE_S, detail=f"practice recording {audio.duration_s:.1f} s")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        target = pronounce(text, self.kiwi)
        if not target.hangul:
            raise EmptyTextError("읽을 한국어 문장을 적어 주세요.", detail="target has no Hangul")
        expected = expected_units(target)

        start = time.perf_counter()
        if self.phoneme_recognizer is not None:
            symbols = [s for s in self.phoneme_recognizer.recognize_phonemes(audio) if s != WORD_BOUNDARY]
            heard = heard_units_from_phonemes(symbols)
            heard_text = ""
            heard_pron = "".join(u.text for u in heard)
            heard_ipa = ipa_string(symbols)
            source = "phonemes"
            confidence = 1.0
            timings["phonemes"] = (time.perf_counter() - start) * 1e3
        else:
            assert self.transcriber is not None
            # Practice verdicts were calibrated on Whisper's full window: listen with it even
            # where conversations use a shorter one to keep up under load (MAUM_WHISPER_WINDOW_S).
            with getattr(self.transcriber, "full_window", nullcontext)():
                transcript = self.transcriber.transcribe(audio)
            heard_text = transcript.text
            heard_p = pronounce(heard_text, self.kiwi)
            heard = heard_units_from_text(heard_p)
            heard_pron, heard_ipa = heard_p.hangul, heard_p.ipa
            source = "transcript"
            confidence = transcript.confidence if transcript.text.strip() else 0.0
            timings["transcribe"] = (time.perf_counter() - start) * 1e3

        start = time.perf_counter()
        alignment = align(expected, heard)
        timings["align"] = (time.perf_counter() - start) * 1e3

        probabilities: list[float | None] = [None] * len(target.spoken)
        rivals: dict[int, Rival] = {}
        head: HeadEvidence | None = None
        posteriors = getattr(self.evidence, "phoneme_posteriors", None)
        if posteriors is not None:
            start = time.perf_counter()
            log_probs = posteriors(audio)
            if log_probs is not None and len(log_probs):
                head = head_rivals(log_probs, target)
            timings["phoneme_head"] = (time.perf_counter() - start) * 1e3
        if self.evidence is not None:
            start = time.perf_counter()
            weigh = getattr(self.evidence, "weigh", None) if self.rivals else None
            if weigh is not None:
                probabilities, rivals = best_rivals(target, weigh, audio)
            else:
                probabilities = self.evidence.syllable_probabilities(audio, target.spoken)
            timings["acoustic"] = (time.perf_counter() - start) * 1e3

        start = time.perf_counter()
        stretches = self.stretches(audio)
        timings["vad"] = (time.perf_counter() - start) * 1e3

        known = [p for p in probabilities if p is not None]
        mean_p = sum(known) / len(known) if known else None
        start = time.perf_counter()
        quality = assess(audio)
        timings["quality"] = (time.perf_counter() - start) * 1e3
        no_speech = not stretches and confidence < UNCLEAR_CONFIDENCE
        noisy = quality.snr_db < UNCLEAR_SNR_DB and mean_p is not None and mean_p < UNCLEAR_ACOUSTIC
        unclear = no_speech or noisy
        syllables = self._judge(
            target,
            alignment,
            probabilities,
            unclear,
            confidence >= OTHER_SENTENCE_CONFIDENCE,
            rivals,
            head,
            quality.degraded,
        )
        n = len(syllables) or 1
        coverage = sum(s.said for s in syllables) / n
        if known:
            coverage = sum(p is not None and p >= SUPPORTED for p in probabilities) / len(known)
        timing = measure_fluency(stretches, len(heard), coverage)
        accuracy = round(sum(s.score for s in syllables) / n, 1)
        completeness = round(100.0 * sum(s.said for s in syllables) / n, 1)
        fluency = timing.score
        overall = 0.6 * accuracy + 0.2 * completeness + 0.2 * fluency * min(1.0, accuracy / 60.0)
        overall = round(max(0.0, min(100.0, overall)), 1)
        wrong = sum(s.rating == feedback.WRONG for s in syllables)
        unsure = sum(s.rating == feedback.UNSURE for s in syllables)
        insertions = tuple(
            {"after": ins.after, "heard": ins.heard.text, "heard_ipa": ipa_string(ins.heard.symbols)}
            for ins in alignment.insertions
        )
        timings["total"] = (time.perf_counter() - t0) * 1e3
        summary = feedback.summary_message(overall, wrong, unsure, fluency)
        if unclear:
            summary = feedback.UNCLEAR_SUMMARY
        elif quality.degraded:  # say plainly that the recording, not the learner, limited the verdicts
            summary = f"{summary} {quality.message()}"
        return PronunciationScore(
            text=text,
            spoken=target.spoken,
            expected_pronunciation=target.hangul,
            expected_ipa=target.ipa,
            heard_text=heard_text,
            heard_pronunciation=heard_pron,
            heard_ipa=heard_ipa,
            source=source,
            accuracy=accuracy,
            completeness=completeness,
            fluency=fluency,
            overall=overall,
            syllables=tuple(syllables),
            insertions=insertions,
            timing=timing,
            rules=tuple(r.as_dict() for r in target.rules),
            summary=summary,
            acoustic=self.evidence is not None,
            judgeable=not unclear,
            timings_ms=timings,
            quality=quality.as_dict(),
        )

    def _judge(
        self,
        target: Pronunciation,
        alignment: Alignment,
        probabilities: Sequence[float | None],
        unclear: bool,
        confident: bool = True,
        rivals: dict[int, Rival] | None = None,
        head: HeadEvidence | None = None,
        degraded: bool = False,
    ) -> list[SyllableScore]:
        spans = feedback.word_spans(target.spoken)
        word_of = {k: w for w, (a, b) in enumerate(spans) for k in range(a, b)}
        out: list[SyllableScore] = []
        heard_well = [
            sa.status == "correct" and (p := _at(probabilities, sa.expected.index)) is not None and p >= ACOUSTIC_GOOD
            for sa in alignment.syllables
        ]
        for n, sa in enumerate(alignment.syllables):
            others = len(heard_well) - 1
            context = (sum(heard_well) - heard_well[n]) / others if others > 0 else 1.0
            other_sentence = confident and context <= OTHER_SENTENCE_CONTEXT
            unit = sa.expected
            k = unit.index
            p = probabilities[k] if k < len(probabilities) else None
            rules_here = target.rules_at(k)
            followed_spelling = sa.status == SUBSTITUTED and sa.heard == unit.spelled != unit.text
            rival = (rivals or {}).get(k)
            head_rival, head_top = _head_rival(head, k)
            head_ok = head is not None and head.per_frame >= HEAD_MIN_PER_FRAME
            verdict = judge_syllable(
                sa.status,
                sa.matched,
                p,
                followed_spelling,
                unclear,
                context,
                other_sentence,
                rival.relative if rival and rival.peak else None,
                rival.variant.kind if rival else "",
                head_rival.margin if head_rival and head_ok else None,
                head_rival.variant.kind if head_rival else "",
                head_top,
                degraded,
            )
            status, heard, heard_ipa = sa.status, sa.heard, ipa_string(sa.heard_symbols)
            beaten_by = head_rival if verdict.beaten == "head" else rival if verdict.beaten else None
            if beaten_by is not None:  # say what the audio fitted better
                status = SUBSTITUTED if beaten_by.variant.heard else OMITTED
                heard = beaten_by.variant.heard
                heard_ipa = ipa_string(s for syl in syllable_symbols(heard) for s in syl) if heard else ""
            w = word_of.get(k, 0)
            a, b = spans[w] if spans else (0, len(target.spoken))
            # Only the rules that change this syllable (국물's 연음 belongs to 물, not 국).
            explanation = tuple(feedback.explain_rules(target.spoken[a:b], target.hangul[a:b], rules_here))
            tip = ""
            if verdict.rating in (feedback.WRONG, feedback.UNSURE):
                tip = feedback.tip_for_errors(sa.errors)
                if rules_here and (followed_spelling or verdict.reason == feedback.RULE_NOT_APPLIED):
                    rule_tip = feedback.tip_for_rule(unit.text, rules_here)
                    tip = f"{rule_tip} {tip}".strip() if tip else rule_tip
                if not tip:
                    tip = "입을 충분히 벌리고 한 음절씩 또렷하게, 조금 천천히 말해 보세요."
            elif verdict.rating == feedback.UNJUDGEABLE:
                tip = feedback.UNCLEAR_TIP
            out.append(
                SyllableScore(
                    index=k,
                    word=w,
                    spelled=unit.spelled,
                    expected=unit.text,
                    expected_ipa=ipa_string(unit.symbols),
                    heard=heard,
                    heard_ipa=heard_ipa,
                    status=status,
                    rating=verdict.rating,
                    probability=p,
                    score=verdict.score,
                    message=feedback.syllable_message(
                        verdict.rating, unit.spelled, unit.text, heard, status, verdict.reason, rules_here
                    ),
                    rules=tuple(dict.fromkeys(r.label for r in rules_here)),
                    explanation=explanation,
                    tip=tip,
                    said=_said(sa.status, sa.matched, p),
                    reason=verdict.reason,
                )
            )
        return out


@dataclass(frozen=True)
class Verdict:
    """One syllable's rating, its 0–100 score, and why (``feedback.REASONS``; "" when good).

    ``beaten``: a learner-like variant fitted the audio better than the target (the verdict's
    cause): ``"head"`` when the phoneme head found it, ``"decoder"`` when Whisper's decoder did,
    ``""`` otherwise.
    """

    rating: str
    score: float
    reason: str = ""
    beaten: str = ""


@dataclass(frozen=True)
class Rival:
    """The learner-like variant that fitted one syllable best (see ``best_rivals``).

    Attributes:
        variant: the variant.
        margin: its log-probability minus its reference's (nats; positive: it beat the target).
        relative: ``margin`` minus the median of the best margins of all the attempt's syllables.
        peak: its margin is at least its neighbours' (one slip makes both neighbours' "dropped"
            variants fit too; only the stronger is blamed).
    """

    variant: variants.Variant
    margin: float
    relative: float = 0.0
    peak: bool = True


def best_rivals(
    target: Pronunciation,
    weigh: Callable[[Audio, str, Sequence[str]], tuple[list[float | None], list[float]]],
    audio: Audio,
) -> tuple[list[float | None], dict[int, Rival]]:
    """The target's syllable probabilities and, per syllable, its strongest learner-like rival.

    ``weigh`` (``WhisperEvidence.weigh``) force-reads every reference and competitor text of
    ``variants.hypotheses`` over the recording; a rival's margin is its log-probability minus its
    reference's (the same sentence with the same word written as pronounced). Margins are read
    relative to the attempt's median: an accent, a narrow band or noise lift every variant of a
    correct reading a little, a slip lifts one syllable's a lot.
    """
    found = variants.hypotheses(target)
    texts = list(dict.fromkeys([h.reference for h in found] + [h.text for h in found]))
    probabilities, logprobs = weigh(audio, target.spoken, texts)
    lp = dict(zip(texts, logprobs, strict=True))
    best: dict[int, tuple[variants.Variant, float]] = {}
    for h in found:
        margin = max(lp[h.text] - lp[h.reference], -MARGIN_FLOOR)
        k = h.variant.index
        if k not in best or margin > best[k][1]:
            best[k] = (h.variant, margin)
    if not best:
        return probabilities, {}
    order = sorted(best)
    median = float(np.median([best[k][1] for k in order]))
    rivals = {}
    for n, k in enumerate(order):
        variant, margin = best[k]
        neighbours = [best[order[j]][1] for j in (n - 1, n + 1) if 0 <= j < len(order)]
        rivals[k] = Rival(variant, margin, margin - median, all(margin >= m for m in neighbours))
    return probabilities, rivals


def _head_rival(head: HeadEvidence | None, index: int) -> tuple[HeadRival | None, float]:
    """The head's rival at one syllable that comes closest to its kind's ``HEAD_WRONG``, and the best margin of any."""
    if head is None or index not in head.by_kind:
        return None, float("-inf")
    kinds = head.by_kind[index].values()
    chosen = max(kinds, key=lambda r: r.margin - HEAD_WRONG.get(r.variant.kind, float("inf")))
    return chosen, max(r.margin for r in kinds)


_BEATEN_REASON = {
    "rule_not_applied": feedback.RULE_NOT_APPLIED,
    "omitted": feedback.REASON_OMITTED,
    "substituted": feedback.REASON_SUBSTITUTED,
    "inserted": feedback.REASON_SUBSTITUTED,
}


def _at(values: Sequence[float | None], index: int) -> float | None:
    return values[index] if index < len(values) else None


def judge_syllable(
    status: str,
    matched: float,
    p: float | None,
    followed_spelling: bool = False,
    unclear: bool = False,
    context: float = 1.0,
    other_sentence: bool = False,
    margin: float | None = None,
    margin_kind: str = "",
    head_margin: float | None = None,
    head_kind: str = "",
    head_top: float | None = None,
    degraded: bool = False,
) -> Verdict:
    """Rate one target syllable from the acoustics of the target and what the transcript heard.

    The acoustic probability ``p`` (Whisper forced to read the target) comes first: at or above
    ``ACOUSTIC_GOOD`` the syllable is good whatever the transcript says (a recognition error is
    not the learner's). Below ``ACOUSTIC_POOR`` it is wrong only when something else was heard
    there (substituted or omitted in the transcript); poor acoustics alone, or another transcript
    alone, make it unsure. A wrong syllable that a 표준발음법 rule changes and that was heard as
    spelled is ``rule_not_applied``. Without acoustic evidence the transcript alone decides,
    never harsher than unsure for a near match. When the whole attempt is ``unclear`` every
    syllable is ``unjudgeable``.

    A "wrong" also needs the recogniser to show that it follows this speaker: ``context``, the
    share of the *other* syllables that were both heard and well supported by the audio, must be
    at least ``WRONG_CONTEXT`` — unless the attempt is ``other_sentence``: at most
    ``OTHER_SENTENCE_CONTEXT`` of the target supported and a confident transcript (confidence ≥
    ``OTHER_SENTENCE_CONFIDENCE``) of something else. Otherwise, where Whisper misreads a good
    share of a correct reading (a strong accent, the telephone band, a robotic voice), the same
    evidence only makes the syllable unsure: a recognition error must not become the learner's.

    Whisper forced to read the *pronounced* form ("궁무리") is no help for rules: Whisper writes
    spelling, so that probability is low for correct readings too (median 0.05 of the spelled
    form's on the calibration split), and it is not used.

    Args:
        status: ``correct``, ``substituted`` or ``omitted`` from the transcript alignment.
        matched: share of the syllable's phonemes the transcript matched (0–1).
        p: probability of the target syllable given the audio (None: no acoustic evidence).
        followed_spelling: the transcript heard the written syllable where a rule changes it.
        unclear: the recording is too poor to judge.
        context: share of the other target syllables heard and supported by the audio (0–1).
        other_sentence: the transcript confidently heard something else for almost all of the target.
        margin: how far (nats) the strongest learner-like variant of this syllable beat the target,
            relative to the attempt's median (``Rival.relative``); None without hypotheses or when
            a neighbour's variant fitted better still.
        margin_kind: that variant's kind (``variants.Variant.kind``).
        head_margin: the phoneme head's margin for this syllable (``phoneme_head.HeadRival``: the
            strongest variant's CTC log-likelihood minus the target's); None without a head, or
            when the head cannot follow the audio (``HEAD_MIN_PER_FRAME``). When given, it is
            the primary evidence for "wrong": at least ``HEAD_WRONG[head_kind]`` makes the
            syllable wrong, within ``HEAD_UNSURE_BAND`` below it at most unsure.
        head_kind: that variant's kind.
        head_top: the best margin of any of the head's variants there (``head_margin`` when None);
            below ``-HEAD_VETO`` the head clearly hears the target, and a "wrong" from the other
            evidence becomes unsure.
        degraded: the recording is band-limited or noisy (``quality.assess``, measured from the
            audio). A learner-like variant that beats the target (the head's, or the decoder's
            rivals) then makes the syllable at most unsure: it is wrong only when Whisper's
            forced alignment and the transcript say wrong by themselves (``_judge_without_head``).
    """
    heard = 0.0 if status == OMITTED else matched
    other_reason = feedback.REASON_OMITTED if status == OMITTED else feedback.REASON_SUBSTITUTED
    if followed_spelling:
        other_reason = feedback.RULE_NOT_APPLIED
    if p is None:
        score = round(100.0 * heard, 1)
        if unclear:
            return Verdict(feedback.UNJUDGEABLE, score, feedback.REASON_UNJUDGEABLE)
        if status == OMITTED:
            return Verdict(feedback.WRONG, 0.0, other_reason)
        if status == SUBSTITUTED:
            rating = feedback.UNSURE if matched >= 0.66 else feedback.WRONG
            return Verdict(rating, score, other_reason)
        return Verdict(feedback.GOOD, score)
    acoustic = min(1.0, p / ACOUSTIC_FULL)
    score = round(100.0 * (0.5 * heard + 0.5 * acoustic), 1)
    if unclear:
        return Verdict(feedback.UNJUDGEABLE, score, feedback.REASON_UNJUDGEABLE)
    verdict = _judge_without_head(status, p, score, context, other_sentence, other_reason)
    head_beaten = head_margin is not None and head_margin >= HEAD_WRONG.get(head_kind, float("inf"))
    decoder_beaten = (
        margin is not None and margin >= WRONG_MARGIN.get(margin_kind, float("inf")) and context >= MARGIN_CONTEXT
    )
    beaten_kind = head_kind if head_beaten else margin_kind if decoder_beaten else ""
    if beaten_kind and (not degraded or verdict.rating == feedback.WRONG):
        return Verdict(
            feedback.WRONG,
            min(score, BEATEN_SCORE),
            _BEATEN_REASON[beaten_kind],
            beaten="head" if head_beaten else "decoder",
        )
    if beaten_kind:  # poor audio: a variant that fits better is a doubt, not a verdict
        return Verdict(feedback.UNSURE, min(score, 70.0), _BEATEN_REASON[beaten_kind])
    if head_margin is None:
        return verdict
    top = head_margin if head_top is None else head_top
    if verdict.rating == feedback.WRONG and top < -HEAD_VETO:
        return Verdict(feedback.UNSURE, score, verdict.reason)
    if verdict.rating == feedback.GOOD and head_margin >= HEAD_WRONG.get(head_kind, float("inf")) - HEAD_UNSURE_BAND:
        reason = _BEATEN_REASON.get(head_kind, feedback.REASON_UNCLEAR)
        return Verdict(feedback.UNSURE, min(score, 70.0), reason)
    return verdict


def _judge_without_head(
    status: str, p: float, score: float, context: float, other_sentence: bool, other_reason: str
) -> Verdict:
    """``judge_syllable``'s verdict from Whisper's probability and the transcript alone."""
    if p >= ACOUSTIC_GOOD:
        return Verdict(feedback.GOOD, max(score, round(100.0 * min(1.0, p / ACOUSTIC_FULL), 1)))
    other_heard = status != "correct"
    if p < ACOUSTIC_POOR:
        if other_heard and (context >= WRONG_CONTEXT or other_sentence):
            return Verdict(feedback.WRONG, score, other_reason)
        if other_heard:
            return Verdict(feedback.UNSURE, score, other_reason)
        return Verdict(feedback.UNSURE, score, feedback.REASON_UNCLEAR)
    if other_heard:
        return Verdict(feedback.UNSURE, score, feedback.REASON_UNCLEAR)
    return Verdict(feedback.GOOD, score)


def _said(status: str, matched: float, p: float | None) -> bool:
    """Whether a syllable counts as said: heard with half its phonemes or more, or supported by the audio.

    A syllable swapped for something unrelated was not said.
    """
    if p is not None and p >= SUPPORTED:
        return True
    return status != OMITTED and matched >= 0.5
