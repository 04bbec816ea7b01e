"""``python -m pipeline``: the JSON contract, on fakes (fast) and on the real defaults (slow, offline)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from pipeline import audio
from pipeline.metrics import cer
from pipeline.types import EMOTION_LABELS
from tests.samples import REPO, encode, real_sentences, tone

FAKE_ENV = {f"MAUM_{stage}": "fake" for stage in ("TRANSCRIBER", "CLASSIFIER", "RESPONDER", "SYNTHESIZER")}


def run_cli(args, stdin="", env=None, offline_log=None, timeout=300):
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAUM_")}
    base.update(env or {})
    prefix = [sys.executable, str(REPO / "tests" / "offline_run.py"), str(offline_log)] if offline_log else [
        sys.executable, "-m", "pipeline"]  # fmt: skip
    proc = subprocess.run(
        [*prefix, *args], input=stdin, capture_output=True, text=True, cwd=REPO, env=base, timeout=timeout
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc, lines


def test_emotion_prints_label_and_seven_scores():
    proc, lines = run_cli(["emotion"], "너무 슬퍼요\n\n오늘 회사 다녀왔어요\n", FAKE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert [line["text"] for line in lines] == ["너무 슬퍼요", "오늘 회사 다녀왔어요"]
    assert lines[0]["label"] == "sadness" and lines[1]["label"] == "neutral"
    assert all(set(line["scores"]) == set(EMOTION_LABELS) for line in lines)


def test_risk_prints_level_and_reasons():
    proc, lines = run_cli(["risk"], "배고파 죽겠어요\n그냥 죽고 싶어요\n", FAKE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert [line["level"] for line in lines] == ["none", "high"]
    assert lines[1]["reasons"] and all(reason in "그냥 죽고 싶어요" for reason in lines[1]["reasons"])


def test_reply_keeps_one_conversation():
    proc, lines = run_cli(["reply"], "안녕\n우울해요\n", FAKE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert [set(line) >= {"text", "emotion", "risk", "reply"} for line in lines] == [True, True]
    assert lines[1]["reply"].startswith("2번째")  # the fake responder counts the history


def test_transcribe_reports_bad_files_and_goes_on(tmp_path):
    good = tmp_path / "good.wav"
    good.write_bytes(encode(tone(1.0), 16000, "WAV"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage" * 50)
    proc, lines = run_cli(["transcribe", str(bad), str(good), str(tmp_path / "missing.wav")], env=FAKE_ENV)
    assert proc.returncode == 1
    assert lines[0]["error"]["code"] == "audio_undecodable"
    assert lines[1]["text"] and lines[1]["latency_ms"] >= 0 and lines[1]["file"] == str(good)
    assert lines[2]["error"]["code"] == "file_unreadable"


def test_unknown_backend_is_a_clear_error():
    proc, _ = run_cli(["emotion"], "안녕\n", {"MAUM_CLASSIFIER": "gpt"})
    assert proc.returncode == 2
    assert "unknown classifier backend 'gpt'" in proc.stderr and "e5-head" in proc.stderr


def test_settings_lists_every_variable():
    proc, lines = run_cli(["settings"])
    assert {"MAUM_DEVICE", "MAUM_MAX_AUDIO_S", "MAUM_TRANSCRIBER"} <= {line["env"] for line in lines}


@pytest.mark.slow
def test_one_voice_turn_on_real_speech_offline(tmp_path):
    path, reference = real_sentences()[0]
    out = tmp_path / "reply.wav"
    net_log = tmp_path / "network.log"
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MAUM_CACHE_DIR": str(tmp_path / "cache")}
    proc, lines = run_cli(["turn", str(path), "--out", str(out)], env=env, offline_log=net_log)
    assert proc.returncode == 0, proc.stderr
    assert not net_log.exists(), net_log.read_text()
    result = lines[0]
    assert cer([reference], [result["transcript"]]) <= 0.15
    assert result["emotion"]["label"] in EMOTION_LABELS and result["risk"]["level"] == "none"
    reply = result["reply"]["text"]
    assert len(re.findall(r"[가-힣]", reply)) >= 15 and reply.rstrip().endswith("?")
    assert {"decode", "transcribe", "risk", "emotion", "respond", "synthesize", "total"} <= set(result["timings_ms"])
    samples, rate = sf.read(io.BytesIO(out.read_bytes()), dtype="float32")
    assert rate > 8000 and len(samples) / rate > 1.0
    assert audio.loudest_dbfs(samples, rate) > -30  # playable speech, not silence


@pytest.mark.slow
def test_reply_to_a_crisis_line_on_real_models_carries_the_numbers(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "MAUM_CACHE_DIR": str(tmp_path / "cache")}
    proc, lines = run_cli(["reply"], "요즘 너무 힘들어요\n솔직히 이제 그만 살고 싶어요\n", env=env,
                          offline_log=tmp_path / "net.log")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert lines[0]["risk"] == "none" and "109" not in lines[0]["reply"]
    assert lines[1]["risk"] == "high"
    assert all(n in lines[1]["reply"] for n in ("109", "1577-0199", "112", "119"))  # the suicide lines
    assert not Path(tmp_path / "net.log").exists()
