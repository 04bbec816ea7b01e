"""The recogniser evaluation command: CER/WER per backend, clean and with noise mixed in."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from benchmarks import asr_eval
from tests.samples import KOREAN_SPEECH, tone


def fake_folder(tmp_path):
    (tmp_path / "audio").mkdir(parents=True)
    rows = ["file\ttranscript"]
    for i in range(2):
        sf.write(tmp_path / "audio" / f"{i}.wav", tone(1.0, freq=220.0 + 100 * i), 16000)
        rows.append(f"{i}.wav\t오늘 좀 우울해요")  # what the fake transcriber always hears
    (tmp_path / "transcripts.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def test_table_and_json_for_each_backend_and_condition(tmp_path, capsys):
    folder = fake_folder(tmp_path / "set")
    code = asr_eval.main([str(folder), "--backends", "fake", "--snr", "20,0", "--noise", "white,babble,pink"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    report = json.loads(lines[-1])
    conditions = [r["condition"] for r in report["results"]]
    assert conditions == ["clean", "white@20dB", "white@0dB", "babble@20dB", "babble@0dB", "pink@20dB", "pink@0dB"]
    assert all(r["cer"] == 0.0 and r["wer"] == 0.0 and r["backend"] == "fake" for r in report["results"])
    assert report["recordings"] == 2 and report["duration_s"] == 2.0
    table = "\n".join(lines[:-1])
    assert "white@0dB" in table and "CER" in table and len(lines) - 1 == 2 + len(conditions)


def test_a_backend_that_cannot_load_is_reported_not_fatal(tmp_path, capsys):
    folder = fake_folder(tmp_path / "set")
    code = asr_eval.main([str(folder), "--backends", "deepspeech2,fake", "--snr", ""])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1
    assert "MAUM_DEEPSPEECH2_CHECKPOINT" in report["results"][0]["error"]
    assert report["results"][1] == {**report["results"][1], "backend": "fake", "condition": "clean", "cer": 0.0}


def test_noise_is_deterministic_and_really_there(tmp_path):
    from pipeline.audio import decode_file
    from pipeline.metrics import read_transcripts

    folder = fake_folder(tmp_path / "set")
    clean = [decode_file(path) for path, _ in read_transcripts(folder)]
    a = asr_eval.noisy_versions(clean, ["babble"], [0.0], seed=3)[("babble", 0.0)]
    b = asr_eval.noisy_versions(clean, ["babble"], [0.0], seed=3)[("babble", 0.0)]
    assert all((x.samples == y.samples).all() for x, y in zip(a, b, strict=True))
    assert not (a[0].samples == clean[0].samples).all()


@pytest.mark.slow
def test_whisper_on_the_real_sentences(capsys):
    code = asr_eval.main([str(KOREAN_SPEECH), "--snr", "10", "--noise", "white"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    clean, noisy = report["results"]
    assert clean["backend"] == "whisper" and clean["condition"] == "clean" and noisy["condition"] == "white@10dB"
    assert clean["cer"] <= 0.3  # measured 0.094 (Whisper base, greedy)
    assert noisy["cer"] <= 0.6  # measured 0.125
