"""First reply clip: synthesis time of the whole first sentence against the short first clip.

For the 20 fixed replies of ``benchmarks.tts_intelligibility``, synthesises (uncached: the
backend itself, no sentence cache) the first sentence (``split_sentences``, what clip 0 was) and
the first clip (``reply_sentences``: the first clause of a long first sentence), interleaved so
that the machine's load hits both alike, and prints their p50 and the ratio as JSON.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.first_clip
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from benchmarks.tts_intelligibility import REPLIES
from pipeline import registry
from pipeline.settings import Settings
from pipeline.speech.voice import reply_sentences
from pipeline.text.normalize import split_sentences


def main() -> int:
    """Time the first clip's synthesis against the whole first sentence; print JSON."""
    settings = Settings.from_env()
    synthesizer = registry.create("synthesizer", settings.synthesizer, settings)
    synthesizer.synthesize("안녕하세요.")  # warm-up
    sentence_ms, clip_ms = [], []
    for reply in REPLIES:
        for texts, out in ((split_sentences(reply), sentence_ms), (reply_sentences(reply), clip_ms)):
            start = time.perf_counter()
            synthesizer.synthesize(texts[0])
            out.append((time.perf_counter() - start) * 1000.0)
    sentence, clip = statistics.median(sentence_ms), statistics.median(clip_ms)
    print(json.dumps({
        "synthesizer": getattr(synthesizer, "name", settings.synthesizer),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "first_sentence_ms_p50": round(sentence, 1),
        "first_clip_ms_p50": round(clip, 1),
        "ratio": round(clip / sentence, 3),
    }, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
