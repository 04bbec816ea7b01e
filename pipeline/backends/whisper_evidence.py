"""Acoustic evidence for pronunciation scoring: Whisper forced to read the target over a recording.

CTranslate2's ``Whisper.align`` with the target text's token ids gives each token a probability;
a mumbled or wrong syllable gets a low one even when the transcript was auto-corrected to the
right spelling. Token probabilities are mapped back to syllables through the tokenizer's
character offsets. The adapter reaches into faster-whisper's model, feature extractor and
tokenizer, so it lives here among the backends, registered as ``acoustic_evidence`` ``whisper``
in ``pipeline/registry.py`` and built by the ``Pipeline`` on the Whisper transcriber's model.

The same encoding also feeds the CTC phoneme head (``pipeline.pronunciation.phoneme_head``) when
it is shipped: ``phoneme_posteriors`` gives its frame-level phoneme log-posteriors, which listen to
the sounds without Whisper's language model. The last encoding is kept, so an attempt that asks
for the target's probabilities and for the phoneme posteriors encodes the recording once.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from pipeline.pronunciation.phoneme_head import PhonemeHead
from pipeline.pronunciation.results import TextEvidence
from pipeline.pronunciation.scoring import MAX_PRACTICE_S
from pipeline.settings import Settings
from pipeline.types import Audio

#: Texts force-read in one batch (the learner-like variants of a sentence: ``variants``).
ALIGN_BATCH = 16
#: Hypotheses weighed in one batch (over the trimmed encoding: see ``weigh``).
WEIGH_BATCH = 16
#: Encoder positions (20 ms each) kept after the end of the recording when weighing hypotheses.
TAIL_POSITIONS = 25


class WhisperEvidence:
    """``AcousticEvidence`` from a faster-whisper ``WhisperModel`` (CTranslate2 ``Whisper.align``).

    Args:
        model: the ``faster_whisper.WhisperModel`` already loaded by the Whisper transcriber.
        language: Whisper language code of the target text.
        head: the CTC phoneme head over the encoder frames (``PhonemeHead``), or None.
    """

    def __init__(self, model: Any, language: str = "ko", head: PhonemeHead | None = None) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.model = model
        self.head = head
        self._last: tuple[bytes, Any, int] | None = None
        multilingual = model.model.is_multilingual
        self.tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language)
        self.n_frames = int(model.feature_extractor.nb_max_frames)

    @classmethod
    def for_transcriber(cls, transcriber: Any, settings: Settings) -> WhisperEvidence | None:
        """Evidence sharing ``transcriber``'s loaded Whisper model; None when it has none to share.

        A transcriber handed in under the ``whisper`` setting (a fake in tests, say) has no
        CTranslate2 model with ``align``: the scorer then works from the transcript alone.
        """
        model = getattr(transcriber, "model", None)
        if model is None or not hasattr(model, "hf_tokenizer") or not hasattr(getattr(model, "model", None), "align"):
            return None
        return cls(model, settings.language, PhonemeHead.load_default())

    def syllable_probabilities(self, audio: Audio, spoken: str) -> list[float | None]:
        """See ``AcousticEvidence``.

        Each syllable gets the lowest probability of the tokens that cover any of its bytes
        (Whisper's byte-level tokens may split a syllable or join several).
        """
        return self.probabilities_for(audio, [spoken])[0]

    def probabilities_for(self, audio: Audio, texts: Sequence[str]) -> list[list[float | None]]:
        """``syllable_probabilities`` for several texts over one recording, encoding it once."""
        return [t.probabilities for t in self.align_texts(audio, texts)]

    def encoder_frames(self, audio: Audio) -> np.ndarray:
        """Whisper's encoder output over the recording: (T, 512) float32 at 50 Hz (padding cut off).

        The recording is encoded in its padded 30 s window exactly as for ``align`` (the encoder
        attends over the padding too), then cut to its own length.
        """
        encoded, content = self._encode(audio)
        return np.asarray(encoded, dtype=np.float32)[0, : max(1, content // 2)]

    def phoneme_posteriors(self, audio: Audio) -> np.ndarray | None:
        """The phoneme head's (T, classes) log-posteriors for the recording; None without a head."""
        if self.head is None:
            return None
        return self.head.log_posteriors(self.encoder_frames(audio))

    def _encode(self, audio: Audio) -> tuple[Any, int]:
        """Whisper's encoding of the recording (one 30 s window) and its number of mel frames.

        The last recording's encoding is reused (keyed by a digest of its samples).
        """
        import hashlib

        key = hashlib.blake2b(np.ascontiguousarray(audio.samples).tobytes(), digest_size=16).digest()
        last = self._last  # read once: another thread may replace it
        if last is not None and last[0] == key:
            return last[1], last[2]
        encoded, content = self._encode_uncached(audio)
        self._last = (key, encoded, content)
        return encoded, content

    def _encode_uncached(self, audio: Audio) -> tuple[Any, int]:
        features = self.model.feature_extractor(audio.samples[: int(MAX_PRACTICE_S * audio.sample_rate)])
        content = min(int(features.shape[-1]), self.n_frames)
        features = features[:, : self.n_frames]
        if features.shape[-1] < self.n_frames:
            features = np.pad(features, ((0, 0), (0, self.n_frames - features.shape[-1])))
        # The whole 30-s window, whatever the transcriber's window setting: the phoneme head was
        # trained, and the verdicts calibrated, on encodings of the full window.
        with getattr(self.model, "full_window", nullcontext)():
            return self.model.encode(features), content

    def weigh(self, audio: Audio, spoken: str, texts: Sequence[str]) -> tuple[list[float | None], list[float]]:
        """The target's syllable probabilities and the log-probability of each of ``texts``, encoding once.

        The texts (a reference and its learner-like competitors: ``variants.hypotheses``) are
        force-read over the encoding cut to the recording plus ``TAIL_POSITIONS``: CTranslate2's
        ``align`` attends over every encoder position, and the padding of a short recording to
        30 s made a batch of 26 hypotheses ten times slower (5.3 s against 0.5 s on 2 cores) for
        log-probabilities within 0.1 nat of each other.
        """
        targets, logprobs = self.weigh_many(audio, [spoken], texts)
        return targets[0], logprobs

    def weigh_many(
        self, audio: Audio, spokens: Sequence[str], texts: Sequence[str]
    ) -> tuple[list[list[float | None]], list[float]]:
        """``weigh`` for several targets at once (the benchmark's own and other sentences)."""
        import ctranslate2

        encoded, content = self._encode(audio)
        targets = [
            self._align(encoded, content, [t])[0].probabilities if t.strip() else [None] * len(t) for t in spokens
        ]
        array = np.asarray(encoded)[:, : min(content // 2 + TAIL_POSITIONS, self.n_frames // 2)]
        logprobs: list[float] = []
        for first in range(0, len(texts), WEIGH_BATCH):
            batch = list(texts[first : first + WEIGH_BATCH])
            view = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(array, len(batch), axis=0)))
            logprobs.extend(t.logprob for t in self._align(view, content, batch))
        return targets, logprobs

    def _align(self, encoded: Any, content: int, texts: Sequence[str]) -> list[TextEvidence]:
        """``align`` one batch of texts over an encoding already repeated to the batch's size."""
        encodings = [self.tokenizer.tokenizer.encode(" " + t, add_special_tokens=False) for t in texts]
        aligned = self.model.model.align(
            encoded, self.tokenizer.sot_sequence, [list(e.ids) for e in encodings], [content] * len(texts)
        )
        out = []
        for spoken, encoding, result in zip(texts, encodings, aligned, strict=True):
            probs_out: list[float | None] = [None] * len(spoken)
            probs = list(result.text_token_probs)
            for (start, end), p in zip(encoding.offsets, probs, strict=False):
                for c in range(max(start, 1), end):
                    k = c - 1
                    if k < len(spoken) and not spoken[k].isspace():
                        q = probs_out[k]
                        probs_out[k] = p if q is None else min(q, p)
            out.append(TextEvidence(probs_out, float(sum(np.log(max(p, 1e-9)) for p in probs))))
        return out

    def align_texts(self, audio: Audio, texts: Sequence[str]) -> list[TextEvidence]:
        """Force-read each of ``texts`` over one recording (encoded once, aligned in batches).

        Returns, per text, the per-syllable probabilities and the summed log-probability of all its
        tokens (how well the whole reading fits the audio; comparable between variants of one
        sentence, see ``variants``).
        """
        import ctranslate2

        results = [TextEvidence([None] * len(t), float("-inf")) for t in texts]
        todo = [n for n, t in enumerate(texts) if t.strip()]
        if not todo:
            return results
        encoded, content = self._encode(audio)
        array = np.asarray(encoded) if len(todo) > 1 else None
        for first in range(0, len(todo), ALIGN_BATCH):
            batch = todo[first : first + ALIGN_BATCH]
            view = encoded
            if array is not None:
                view = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(array, len(batch), axis=0)))
            for n, evidence in zip(batch, self._align(view, content, [texts[n] for n in batch]), strict=True):
                results[n] = evidence
        return results


def whisper_evidence_for(transcriber: Any, language: str = "ko") -> WhisperEvidence | None:
    """Acoustic evidence sharing the transcriber's Whisper model, or None for other transcribers."""
    model = getattr(transcriber, "model", None)
    if model is None or not hasattr(model, "hf_tokenizer") or not hasattr(getattr(model, "model", None), "align"):
        return None
    return WhisperEvidence(model, language, PhonemeHead.load_default())
