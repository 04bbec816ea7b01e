"""Helpers the web app tests share: start a conversation, say or speak a turn, read what was stored.

Shared fixtures (``app``, ``client``, ``migrated_app``) are in ``conftest.py``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import soundfile as sf
import sqlalchemy as sa

from tests.samples import tone
from webapp.db import Turn, db
from webapp.reply_audio import wait_for_reply_audio

EXPECTED_TURN_KEYS = {
    "turn_id",
    "transcript",
    "emotion",
    "risk",
    "reply",
    "conversation_risk",
    "timings_ms",
    "degraded",
}
CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1388", "1366")


def tone_wav(seconds: float = 1.0, frequency_hz: float = 220.0, amplitude: float = 0.3) -> bytes:
    """A 16 kHz 16-bit WAV of a sine tone (silence when ``amplitude`` is 0)."""
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, freq=frequency_hz, amp=amplitude), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def start(client) -> tuple[str, str]:
    response = client.post("/api/conversations")
    assert response.status_code == 201
    return response.json["id"], response.json["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def say(client, conversation_id: str, token: str, text: str):
    response = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=bearer(token))
    wait_for_reply_audio()  # the reply's complete file is made after the answer
    return response


def speak(client, conversation_id: str, token: str, audio: bytes, filename: str = "recording.wav"):
    response = client.post(
        f"/api/conversations/{conversation_id}/turns",
        data={"audio": (io.BytesIO(audio), filename)},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    wait_for_reply_audio()  # the reply's complete file is made after the answer
    return response


def fetch(client, url: str, **kwargs):
    """GET ``url``, read the whole body and close the response (file responses hold the file open)."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def settle() -> None:
    """Wait for the background threads that assemble complete reply audio files."""
    wait_for_reply_audio()


def audio_files(app) -> list[Path]:
    """Every file under the instance's audio folder, temporary ones included (after the reply audio is done)."""
    settle()
    root = Path(app.instance_path) / "audio"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def turns(app) -> list[Turn]:
    settle()
    with app.app_context():
        rows = db.session.scalars(sa.select(Turn).order_by(Turn.conversation_id, Turn.index)).all()
        db.session.expunge_all()
        return list(rows)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert re.search("[가-힣]", error["message"]), "the message is for people, in Korean"


class BrokenSynthesizer:
    def synthesize(self, text: str, *, tone: str = ""):
        raise RuntimeError("espeak-ng crashed")


class ExplodingTranscriber:
    def transcribe(self, audio):
        raise RuntimeError("secret internal detail")
