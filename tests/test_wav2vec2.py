"""The ``wav2vec2`` transcriber on a tiny random model saved in the test, and CTC fine-tuning of it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import torch

from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.turn import Pipeline
from pipeline.types import Audio
from tests.samples import tone

pytest.importorskip("transformers")

from transformers import (  # noqa: E402
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2Model,
    Wav2Vec2Processor,
)

VOCAB = ["<pad>", "<unk>", "|", "가", "나", "다", "마", "음"]
SENTENCES = ["마음 가다", "나 다 가"]


def tiny_config(vocab_size: int = len(VOCAB)) -> Wav2Vec2Config:
    return Wav2Vec2Config(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        num_feat_extract_layers=2,
        pad_token_id=0,
        mask_time_prob=0.0,
        layerdrop=0.0,
    )


def save_processor(folder: Path) -> Wav2Vec2Processor:
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps({t: i for i, t in enumerate(VOCAB)}, ensure_ascii=False), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True)
    processor = Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)
    processor.save_pretrained(str(folder))
    return processor


def tiny_ctc_model(folder: Path, say: str | None = None) -> Path:
    """A random tiny Wav2Vec2ForCTC + processor; with ``say``, its output layer writes that unit on every frame."""
    save_processor(folder)
    torch.manual_seed(0)
    model = Wav2Vec2ForCTC(tiny_config())
    if say is not None:
        with torch.no_grad():
            model.lm_head.weight.zero_()
            model.lm_head.bias.zero_()
            model.lm_head.bias[VOCAB.index(say)] = 10.0
    model.save_pretrained(str(folder))
    return folder


def pipeline_settings(folder: Path | str, **kw) -> Settings:
    return Settings(
        transcriber="wav2vec2", classifier="fake", responder="fake", synthesizer="fake",
        wav2vec2_model=str(folder), device="cpu", **kw,
    )  # fmt: skip


def test_transcribes_through_the_app_pipeline(tmp_path):
    folder = tiny_ctc_model(tmp_path / "w2v2", say="마")
    pipe = Pipeline(pipeline_settings(folder))
    result = pipe.run_audio(Audio(tone(1.0), 16000))
    # Every frame says 마: CTC merges the repeats into one unit, and the tokenizer turns it into text.
    assert result.transcript.text == "마"
    assert 0.0 < result.transcript.confidence <= 1.0
    assert result.timings_ms["transcribe"] > 0
    assert pipe.backend_names()["transcriber"] == "wav2vec2:w2v2"


def test_beam_search_setting_gives_the_same_text_on_a_peaky_model(tmp_path):
    folder = tiny_ctc_model(tmp_path / "w2v2", say="음")
    pipe = Pipeline(pipeline_settings(folder, ctc_beam_size=4))
    assert pipe.run_audio(Audio(tone(0.8), 16000)).transcript.text == "음"


def test_random_model_writes_only_its_vocabulary(tmp_path):
    folder = tiny_ctc_model(tmp_path / "w2v2")
    text = Pipeline(pipeline_settings(folder)).transcriber.transcribe(Audio(tone(1.0, freq=330.0), 16000)).text
    assert set(text.replace(" ", "")) <= set("가나다마음")


@pytest.mark.parametrize(
    ("setting", "message"),
    [("", "MAUM_WAV2VEC2_MODEL is empty"), ("/nonexistent/w2v2", "no such folder")],
)
def test_missing_model_setting_is_a_clear_error(setting, message):
    with pytest.raises(ModelFilesError) as err:
        Pipeline(pipeline_settings(setting)).transcriber  # noqa: B018 - building it is the test
    assert message in str(err.value) and err.value.code == "model_files_invalid"


def test_folder_without_tokenizer_names_what_is_missing(tmp_path):
    folder = tiny_ctc_model(tmp_path / "w2v2")
    (folder / "vocab.json").unlink()
    with pytest.raises(ModelFilesError, match="vocab.json"):
        Pipeline(pipeline_settings(folder)).transcriber  # noqa: B018


def test_folder_with_a_broken_config_is_a_clear_error(tmp_path):
    folder = tiny_ctc_model(tmp_path / "w2v2")
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFilesError, match="does not load"):
        Pipeline(pipeline_settings(folder)).transcriber  # noqa: B018


def espeak_folder(folder: Path) -> Path:
    (folder / "audio").mkdir(parents=True)
    rows = ["file\ttranscript"]
    for i, text in enumerate(SENTENCES):
        wav = folder / "audio" / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), text], check=True, capture_output=True)
        rows.append(f"{wav.name}\t{text}")
    (folder / "transcripts.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_finetune_script_runs_two_steps_and_the_backend_loads_its_output(tmp_path):
    from training import finetune_wav2vec2

    # A self-supervised "pretrained" folder: encoder only, no CTC layer, no tokenizer.
    pretrained = tmp_path / "pretrained"
    torch.manual_seed(0)
    encoder = Wav2Vec2Model(tiny_config())
    encoder.save_pretrained(str(pretrained))
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(str(pretrained))
    data = espeak_folder(tmp_path / "data")
    out = tmp_path / "finetuned"
    code = finetune_wav2vec2.main([
        "--pretrained", str(pretrained), "--train", str(data), "--valid", str(data), "--out", str(out),
        "--max-steps", "2", "--epochs", "2", "--batch-size", "1", "--num-workers", "0",
        "--device", "cpu", "--threads", "1", "--progress", "false", "--lr", "1e-3",
    ])  # fmt: skip
    assert code == 0
    record = json.loads((out / "maum_finetune.json").read_text(encoding="utf-8"))
    assert record["metrics"]["step"] == 2 and 0.0 <= record["metrics"]["valid"]["cer"]
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    # Built from the data: every syllable of the transcripts, the blank, unk and the word delimiter.
    assert set(vocab) == {"<pad>", "<unk>", "|"} | set("".join(SENTENCES).replace(" ", ""))
    tuned = Wav2Vec2ForCTC.from_pretrained(str(out))
    assert tuned.config.vocab_size == len(vocab)
    # The transformer was trained, the frozen convolutional feature encoder was not.
    before = dict(encoder.named_parameters())
    after = dict(tuned.wav2vec2.named_parameters())
    name = "encoder.layers.0.attention.q_proj.weight"
    assert not torch.equal(before[name], after[name])
    conv = "feature_extractor.conv_layers.0.conv.weight"
    assert torch.equal(before[conv], after[conv])

    samples, rate = sf.read(data / "audio" / "s0.wav", dtype="float32")
    from pipeline.audio import to_mono_16k

    audio = Audio(to_mono_16k(samples, rate), 16000)
    text = Pipeline(pipeline_settings(out)).run_audio(audio).transcript.text
    assert set(text.replace(" ", "")) <= set(vocab)
