"""Write a small KSS-format data set spoken by espeak-ng, for plumbing and alignment experiments.

Synthetic speech is no quality proxy, but it has the layout of KSS (``1/1_NNNN.wav`` and
``transcript.v.1.4.txt`` with ``path|original|expanded|decomposed|duration|english``), so
``training.train_tacotron`` runs on it end to end. By default it speaks 100 sentences of 8–22
characters without digits or Latin letters from the emotion corpus (``training/data/emotion``)::

    .venv/bin/python -m training.espeak_kss --out /tmp/espeak-kss --count 100
    .venv/bin/python -m training.train_tacotron --data /tmp/espeak-kss --out /tmp/taco --preset small \\
        --set embedding_dim=64 --set encoder_dim=64 --set 'prenet_dims=[64,32]' --set attention_rnn_dim=128 \\
        --set decoder_rnn_dim=128 --set attention_dim=64 --set postnet_dim=64 --set postnet_layers=3 \\
        --set reduction_factor=4 --batch-size 32 --schedule constant --lr 2e-3 --threads 1 \\
        --audio sample_rate=16000 --audio n_fft=800 --audio win_length=800 --audio hop_length=200 \\
        --audio fmax=7600 --time-limit-min 25 --plot-every 100
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf

from pipeline.speech.tts_text import to_jamo

CORPUS = Path(__file__).parent / "data" / "emotion" / "train.tsv"


def pick_sentences(count: int, seed: int = 0, min_chars: int = 8, max_chars: int = 22) -> list[str]:
    """``count`` sentences from the emotion corpus, shuffled with ``seed``, Hangul only."""
    with open(CORPUS, encoding="utf-8", newline="") as f:
        texts = [row["text"].strip() for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]

    def hangul_only(t: str) -> bool:
        return not any(c.isdigit() or (c.isascii() and c.isalpha()) for c in t)

    usable = [t for t in texts if min_chars <= len(t) <= max_chars and hangul_only(t)]
    random.Random(seed).shuffle(usable)
    return usable[:count]


def write_espeak_kss(folder: str | Path, sentences: Sequence[str], voice: str = "ko", rate_wpm: int = 160) -> Path:
    """Speak ``sentences`` with espeak-ng into a KSS-format ``folder``; returns the transcript path."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SystemExit("espeak-ng is not installed: apt-get install espeak-ng")
    folder = Path(folder)
    (folder / "1").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, text in enumerate(sentences):
        rel = f"1/1_{i:04d}.wav"
        subprocess.run([binary, "-v", voice, "-s", str(rate_wpm), "-w", str(folder / rel), "--", text], check=True)
        duration = sf.info(str(folder / rel)).duration
        lines.append(f"{rel}|{text}|{text}|{to_jamo(text)}|{duration:.2f}|-")
    transcript = folder / "transcript.v.1.4.txt"
    transcript.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return transcript


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write (1/*.wav and transcript.v.1.4.txt)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sentences = pick_sentences(args.count, args.seed)
    transcript = write_espeak_kss(args.out, sentences)
    seconds = sum(float(line.split("|")[4]) for line in transcript.read_text(encoding="utf-8").splitlines())
    print(json.dumps({"out": args.out, "utterances": len(sentences), "seconds": round(seconds, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
