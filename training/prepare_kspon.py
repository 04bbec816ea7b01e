"""Prepare KsponSpeech (AI Hub, ~965 h of spontaneous Korean) for the speech recognisers.

Reads the corpus as distributed: headerless ``.pcm`` audio (16 kHz, 16-bit signed little-endian,
mono) with either the official ``KsponSpeech_scripts/*.trn`` lists (``path :: text``, UTF-8) or
the per-utterance ``.txt`` files beside the audio (CP949). Writes manifests (``path``, ``text``,
``duration_s`` and, with ``--ipa``, ``ipa``) and vocabulary files that
``training/train_deepspeech2.py`` and ``training/finetune_wav2vec2.py`` read::

    .venv/bin/python -m training.prepare_kspon /data/KsponSpeech --out data/kspon --ipa

``/data/KsponSpeech`` holds ``KsponSpeech_01`` … ``KsponSpeech_05``, ``KsponSpeech_eval`` and
``KsponSpeech_scripts``. With the scripts: ``train.tsv``, ``dev.tsv``, ``eval_clean.tsv``,
``eval_other.tsv``; without them every ``.txt`` found is read and ``--dev-count`` utterances are
held out as ``dev.tsv``.

The transcription conventions (한국어 음성 전사규칙 v1.0), and what this script does with them:

- ``(70%)/(칠십 퍼센트)``: dual transcription, orthography / pronunciation. ``--notation``
  picks the side for ``text`` (``orthography`` by default: what a reader expects); the IPA
  targets always come from the pronunciation side (what was said). The corpus sometimes drops
  the slash, ``(100%)(백 프로)``; that is read the same way.
- ``b/ n/ l/ o/``: breath, noise, laughter, another speaker: removed.
- ``u/``: unintelligible speech: the utterance is skipped (``--keep-unintelligible`` keeps it
  with the tag removed).
- ``아/`` ``음/``: a filler word; ``뭐+``: a repeated or broken-off word; ``*``: unclear
  pronunciation. The markers are removed and the words kept (the audio has them), or with
  ``--fluent`` the filler and repeated words are removed too.
- Sentence punctuation ``. , ? !`` and ``#`` are removed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.speech.asr_vocab import Vocabulary
from training.asr_data import Utterance, audio_duration_s, read_pcm, write_manifest

__all__ = ["KsponLine", "clean_kspon_text", "read_pcm", "read_trn", "prepare"]

log = logging.getLogger("prepare_kspon")

NOTATIONS = ("orthography", "pronunciation")
SCRIPT_SPLITS = ("train", "dev", "eval_clean", "eval_other")

_NOISE_TAG = re.compile(r"(?<![^\s(])[bnlo]/")  # b/ n/ l/ o/ as their own token
_UNINTELLIGIBLE = re.compile(r"(?<![^\s(])u/")
_DUAL = re.compile(r"\(([^()]*)\)(?:\s*/\s*)?\(([^()]*)\)")  # (orthography)/(pronunciation); slash may be missing
_REPEAT = re.compile(r"(\S+?)\+(?=\s|$)")
_FILLER = re.compile(r"(\S+?)/(?=\s|$)")
_PUNCT = re.compile(r"[.,?!#]")


@dataclass(frozen=True)
class KsponLine:
    """One cleaned transcription: the chosen text and the pronunciation side (for IPA)."""

    text: str
    pronunciation: str


def clean_kspon_text(
    raw: str, notation: str = "orthography", *, fluent: bool = False, keep_unintelligible: bool = False
) -> KsponLine | None:
    """One KsponSpeech transcription line → plain text, or None when the utterance should be skipped.

    Args:
        raw: the line as in the corpus, e.g. ``b/ (70%)/(칠십 퍼센트) 확률이라니 아/ 뭐+ 그렇게 돼?``.
        notation: ``orthography`` or ``pronunciation``: which side of dual transcriptions ``text`` takes.
        fluent: also remove filler words (``아/``) and repeated words (``뭐+``).
        keep_unintelligible: keep utterances with ``u/`` (the tag removed) instead of skipping them.

    Returns:
        ``KsponLine`` with ``text`` (the chosen notation) and ``pronunciation``, or None when the
        utterance has unintelligible speech (unless kept) or nothing is left.
    """
    if notation not in NOTATIONS:
        raise ValueError(f"notation must be one of {NOTATIONS}, not {notation!r}")
    line = unicodedata.normalize("NFC", raw).strip()
    if _UNINTELLIGIBLE.search(line):
        if not keep_unintelligible:
            return None
        line = _UNINTELLIGIBLE.sub(" ", line)
    line = _NOISE_TAG.sub(" ", line).replace("*", "")
    line = line.replace(" +", "+ ")  # a known slip in the corpus: "w1 +w2" for "w1+ w2"
    sides = [_DUAL.sub(lambda m, i=i: m.group(i), line) for i in (1, 2)]
    cleaned = [_clean_markers(side, fluent) for side in sides]
    if not all(cleaned):
        return None
    ortho, pron = cleaned
    return KsponLine(text=ortho if notation == "orthography" else pron, pronunciation=pron)


def _clean_markers(text: str, fluent: bool) -> str:
    text = _REPEAT.sub("" if fluent else r"\1", text)
    text = _FILLER.sub("" if fluent else r"\1", text)
    text = text.replace("+", " ").replace("/", " ").replace("(", " ").replace(")", " ")
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def read_trn(path: str | Path) -> Iterator[tuple[str, str]]:
    """(relative .pcm path, raw text) from an official ``KsponSpeech_scripts/*.trn`` list."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            audio, sep, text = line.rstrip("\n").partition(" :: ")
            if not sep:
                raise ValueError(f"{path}:{number}: expected 'path :: text'")
            yield audio.strip(), text


def read_txt(path: Path) -> str:
    """A per-utterance transcription file: CP949 as distributed, UTF-8 if re-encoded."""
    data = path.read_bytes()
    for encoding in ("cp949", "utf-8"):
        try:
            return data.decode(encoding).strip()
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: neither CP949 nor UTF-8")


def walk_txt(root: Path) -> Iterator[tuple[str, str]]:
    """(relative .pcm path, raw text) for every ``.txt`` with a ``.pcm`` beside it under ``root``."""
    for txt in sorted(root.rglob("*.txt")):
        pcm = txt.with_suffix(".pcm")
        if pcm.is_file():
            yield str(pcm.relative_to(root)), read_txt(txt)


@dataclass(frozen=True)
class PrepareOptions:
    notation: str = "orthography"
    fluent: bool = False
    keep_unintelligible: bool = False
    ipa: bool = False


def _ipa_symbols(pronunciation: str) -> tuple[str, ...]:
    from pipeline.pronunciation.g2p import to_ipa_symbols

    return tuple(s for s in to_ipa_symbols(pronunciation) if s.strip())


def _convert(job: tuple[Path, Path, str, str, PrepareOptions]) -> Utterance | None:
    root, out_dir, rel, raw, opts = job
    cleaned = clean_kspon_text(raw, opts.notation, fluent=opts.fluent, keep_unintelligible=opts.keep_unintelligible)
    audio = root / rel
    if cleaned is None or not audio.is_file():
        return None
    ipa = _ipa_symbols(cleaned.pronunciation) if opts.ipa else None
    if opts.ipa and not ipa:
        return None
    return Utterance(os.path.relpath(audio, out_dir), cleaned.text, ipa, round(audio_duration_s(audio), 3))


def convert_all(
    root: Path, out_dir: Path, items: Iterable[tuple[str, str]], opts: PrepareOptions, workers: int
) -> tuple[list[Utterance], int]:
    """Clean every (path, raw text); returns the kept utterances and how many were skipped."""
    jobs = [(root, out_dir, rel, raw, opts) for rel, raw in items]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_convert, jobs, chunksize=256))
    else:
        results = [_convert(job) for job in jobs]
    kept = [r for r in results if r is not None]
    return kept, len(results) - len(kept)


def prepare(
    root: str | Path,
    out: str | Path,
    opts: PrepareOptions,
    *,
    scripts: str | Path | None = None,
    dev_count: int = 3000,
    workers: int = 1,
    min_unit_count: int = 1,
) -> dict[str, object]:
    """Write the manifests and vocabularies; returns counts per split."""
    root, out_dir = Path(root), Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    scripts_dir = Path(scripts) if scripts else root / "KsponSpeech_scripts"
    splits: dict[str, list[tuple[str, str]]] = {}
    if scripts_dir.is_dir() and (scripts_dir / "train.trn").is_file():
        for name in SCRIPT_SPLITS:
            if (scripts_dir / f"{name}.trn").is_file():
                splits[name] = list(read_trn(scripts_dir / f"{name}.trn"))
    else:
        items = list(walk_txt(root))
        if not items:
            raise FileNotFoundError(f"no KsponSpeech_scripts/*.trn and no .txt/.pcm pairs under {root}")
        dev_count = min(dev_count, max(1, len(items) // 10)) if len(items) > 1 else 0
        splits = {"train": items[: len(items) - dev_count], "dev": items[len(items) - dev_count :]}
    report: dict[str, object] = {}
    train_utts: list[Utterance] = []
    for name, items in splits.items():
        kept, skipped = convert_all(root, out_dir, items, opts, workers)
        write_manifest(out_dir / f"{name}.tsv", kept)
        hours = sum(u.duration_s or 0.0 for u in kept) / 3600
        report[name] = {"utterances": len(kept), "skipped": skipped, "hours": round(hours, 2)}
        log.info("%s: %d utterances (%.1f h), %d skipped", name, len(kept), hours, skipped)
        if name == "train":
            train_utts = kept
    kinds = ["syllable", "jamo"] + (["ipa"] if opts.ipa else [])
    for kind in kinds:
        vocab = Vocabulary.build(kind, (u.text for u in train_utts), min_unit_count)
        (out_dir / f"vocab_{kind}.json").write_text(
            json.dumps(vocab.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        report[f"vocab_{kind}"] = len(vocab)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="KsponSpeech folder (KsponSpeech_01…05, KsponSpeech_eval, KsponSpeech_scripts)")
    parser.add_argument("--out", required=True, help="where the manifests and vocabularies go")
    parser.add_argument("--scripts", help="folder with train.trn, dev.trn, eval_clean.trn, eval_other.trn")
    parser.add_argument(
        "--notation", choices=NOTATIONS, default="orthography", help="side of (orthography)/(pronunciation)"
    )
    parser.add_argument("--fluent", action="store_true", help="remove filler (아/) and repeated (뭐+) words too")
    parser.add_argument("--keep-unintelligible", action="store_true", help="keep utterances tagged u/")
    parser.add_argument("--ipa", action="store_true", help="add IPA targets (from the pronunciation side)")
    parser.add_argument("--dev-count", type=int, default=3000, help="held-out utterances without the scripts")
    parser.add_argument("--min-unit-count", type=int, default=1, help="rarer units are left out of the vocabularies")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    opts = PrepareOptions(args.notation, args.fluent, args.keep_unintelligible, args.ipa)
    report = prepare(
        args.root, args.out, opts, scripts=args.scripts, dev_count=args.dev_count,
        workers=args.workers, min_unit_count=args.min_unit_count,
    )  # fmt: skip
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
