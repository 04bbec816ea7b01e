"""Reply audio as stored: Ogg Opus at a speech bitrate (about 24 kbit/s) instead of 16-bit WAV.

A 20-second reply is ~640 kB as 16 kHz WAV and ~60 kB as Opus; Chromium, Firefox and Safari 17+
play Ogg Opus in ``<audio>``. Encoding runs Debian's ``ffmpeg`` (``libopus``) in a subprocess;
when it is missing or fails the WAV is stored instead (logged), so a turn never loses its reply
audio to the codec. ``to_wav`` turns any stored audio back into PCM WAV for code that needs samples.
"""

from __future__ import annotations

import logging
import subprocess

log = logging.getLogger(__name__)

#: Reply audio formats → file extension.
REPLY_FORMATS = {"opus": ".ogg", "wav": ".wav"}
FFMPEG = "ffmpeg"
_TIMEOUT_S = 30.0


def _ffmpeg(args: list[str], data: bytes) -> bytes:
    completed = subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", *args],
        input=data,
        capture_output=True,
        timeout=_TIMEOUT_S,
        check=True,
    )
    return completed.stdout


def encode_reply(wav: bytes, fmt: str, kbps: int = 24) -> tuple[bytes, str]:
    """The reply audio to store and its file extension.

    Args:
        wav: the synthesizer's WAV.
        fmt: ``opus`` or ``wav`` (``MAUM_REPLY_AUDIO_FORMAT``).
        kbps: Opus bitrate in kbit/s.

    Returns:
        ``(bytes, ".ogg")`` for Opus, or ``(wav, ".wav")`` for WAV and whenever encoding failed.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in REPLY_FORMATS:
        raise ValueError(f"MAUM_REPLY_AUDIO_FORMAT={fmt!r}; choose one of {sorted(REPLY_FORMATS)}")
    if fmt == "wav":
        return wav, ".wav"
    args = ["-f", "wav", "-i", "pipe:0", "-c:a", "libopus", "-b:a", f"{kbps}k", "-application", "voip"]
    try:
        ogg = _ffmpeg([*args, "-f", "ogg", "pipe:1"], wav)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not encode the reply as Opus (%s); storing WAV", exc)
        return wav, ".wav"
    if ogg[:4] != b"OggS":
        log.warning("ffmpeg returned no Ogg stream; storing WAV")
        return wav, ".wav"
    return ogg, ".ogg"


def to_wav(data: bytes, sample_rate: int = 16000) -> bytes:
    """Decode stored audio (Ogg Opus, WebM, WAV, ...) to mono 16-bit PCM WAV.

    Raises:
        OSError: ffmpeg is not installed.
        subprocess.CalledProcessError: the bytes are not audio ffmpeg can decode.
    """
    return _ffmpeg(
        ["-i", "pipe:0", "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", "pipe:1"], data
    )
