"""Bytes stored per minute of reply audio (WAV vs Ogg Opus) and the cost of encrypting it.

Run: ``.venv/bin/python -m benchmarks.audio_at_rest FILE.wav [FILE.wav ...]`` (synthesised replies,
e.g. from ``pipeline speak``). Prints WAV and Opus bytes per minute, the Opus encode time per
reply (ffmpeg subprocess), and AES-256-GCM seal/open time per reply.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import soundfile as sf

from webapp.audio_format import encode_reply
from webapp.audiocrypt import AudioKeyring, new_key_b64


def main() -> None:
    """Encode the given WAVs as stored reply audio (Opus, encrypted); print sizes and timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wavs", nargs="+", type=Path)
    parser.add_argument("--kbps", type=int, default=24)
    args = parser.parse_args()
    ring = AudioKeyring.parse(f"bench:{new_key_b64()}")
    seconds = wav_bytes = opus_bytes = 0.0
    encode_s = seal_s = open_s = 0.0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = children.ru_utime + children.ru_stime
    for path in args.wavs:
        wav = path.read_bytes()
        seconds += sf.info(path).duration
        wav_bytes += len(wav)
        start = time.perf_counter()
        ogg, ext = encode_reply(wav, "opus", args.kbps)
        encode_s += time.perf_counter() - start
        assert ext == ".ogg", "ffmpeg with libopus is needed"
        opus_bytes += len(ogg)
        start = time.perf_counter()
        sealed = ring.seal("audio/c/t-reply.ogg", ogg)
        seal_s += time.perf_counter() - start
        start = time.perf_counter()
        ring.open("audio/c/t-reply.ogg", sealed)
        open_s += time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    encode_cpu_s = children.ru_utime + children.ru_stime - cpu_before
    n, minutes = len(args.wavs), seconds / 60
    print(f"{n} replies, {seconds:.1f} s of audio")
    print(f"WAV:  {wav_bytes / minutes / 1e6:.2f} MB per minute")
    ratio = wav_bytes / opus_bytes
    print(f"Opus: {opus_bytes / minutes / 1e6:.3f} MB per minute ({args.kbps} kbit/s; {ratio:.1f}x smaller)")
    print(f"Opus encode: {encode_s / n * 1e3:.0f} ms wall, {encode_cpu_s / n * 1e3:.0f} ms CPU per reply (ffmpeg)")
    print(f"AES-256-GCM: seal {seal_s / n * 1e6:.0f} us, open {open_s / n * 1e6:.0f} us per reply (Opus-sized)")


if __name__ == "__main__":
    main()
