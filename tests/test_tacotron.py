"""Tacotron: model shapes and learning, jamo text, Griffin-Lim, training on KSS-format data, the backend."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from models.tacotron import (
    Tacotron,
    TacotronConfig,
    decoder_steps,
    guided_attention_loss,
    load_checkpoint,
    save_checkpoint,
)
from pipeline import registry
from pipeline.audio import loudest_dbfs
from pipeline.errors import BackendError, ModelFilesError
from pipeline.settings import Settings
from pipeline.speech.tts_text import LEADS, SYMBOLS, TAILS, VOWELS, TextEncoder, to_jamo
from pipeline.speech.vocoder import AudioConfig, griffin_lim, load_wav, spectrograms
from pipeline.stages import Synthesizer
from pipeline.turn import Pipeline
from training import train_tacotron as trainer
from training.espeak_kss import pick_sentences, write_espeak_kss

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

# Small, fast features for the tests: 16 kHz, 10 ms hop, 20 mel bands, 257 linear bins.
AUDIO = AudioConfig(sample_rate=16000, n_fft=512, win_length=512, hop_length=160, n_mels=20, fmax=7600)
AUDIO_ARGS = [a for k, v in {"sample_rate": 16000, "n_fft": 512, "win_length": 512, "hop_length": 160,
                             "n_mels": 20, "fmax": 7600}.items() for a in ("--audio", f"{k}={v}")]  # fmt: skip
SENTENCES = ("안녕하세요.", "오늘 기분은 어떠세요?", "천천히 이야기해 주세요.",
             "마음이 많이 힘드셨겠어요.", "언제든 와요.")  # fmt: skip
TRAIN_STEPS = 20


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and the machine's cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(**overrides) -> TacotronConfig:
    values = {**trainer.PRESETS["tiny"], "vocab_size": len(SYMBOLS), "n_mels": AUDIO.n_mels,
              "n_linear": AUDIO.n_linear, "max_decoder_steps": 30}  # fmt: skip
    return TacotronConfig(**{**values, **overrides})


def fake_batch(config: TacotronConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    token_lengths = torch.tensor([9, 6, 4])
    tokens = torch.randint(2, config.vocab_size, (3, 9), generator=g) * (torch.arange(9) < token_lengths[:, None])
    mel_lengths = torch.tensor([12, 9, 5])
    mels = torch.rand(3, 12, config.n_mels, generator=g) * (torch.arange(12) < mel_lengths[:, None])[..., None]
    return {"tokens": tokens, "token_lengths": token_lengths, "mels": mels, "mel_lengths": mel_lengths,
            "linears": torch.rand(3, 12, config.n_linear, generator=g)}  # fmt: skip


# ------------------------------------------------------------------------------------------ model


@pytest.mark.parametrize(("encoder", "postnet"), [("conv", "conv"), ("cbhg", "cbhg"), ("conv", "cbhg")])
def test_output_shapes(encoder, postnet):
    torch.manual_seed(0)
    config = tiny_config(encoder_type=encoder, postnet_type=postnet, reduction_factor=3)
    model = Tacotron(config)
    b = fake_batch(config)
    out = model(b["tokens"], b["token_lengths"], b["mels"], b["mel_lengths"])
    assert out.mel.shape == (3, 12, config.n_mels)
    assert out.stop_logits.shape == (3, 4) and out.alignments.shape == (3, 4, 9)
    if postnet == "conv":
        assert out.mel_postnet.shape == (3, 12, config.n_mels) and out.linear is None
    else:
        assert out.linear.shape == (3, 12, config.n_linear) and out.mel_postnet is None
    assert out.spectrogram.shape[-1] == (config.n_mels if postnet == "conv" else config.n_linear)
    # Attention never looks at padding, and each step's weights sum to one.
    assert torch.all(out.alignments[2, :, 4:] == 0)
    torch.testing.assert_close(out.alignments.sum(-1), torch.ones(3, 4))

    model.eval()
    gen = model.inference(b["tokens"][:1], max_steps=7)
    steps = gen.alignments.shape[1]
    assert 1 <= steps <= 7 and gen.mel.shape == (1, steps * 3, config.n_mels)
    assert int(gen.lengths[0]) <= steps * 3


def test_inference_ends_at_the_stop_token_or_max_steps():
    torch.manual_seed(0)
    model = Tacotron(tiny_config(stop_window=0, reduction_factor=2)).eval()
    tokens = fake_batch(model.config)["tokens"][:1]
    with torch.no_grad():
        model.decoder.stop_projection.bias.fill_(20.0)  # always "stop"
    assert model.inference(tokens, max_steps=9).lengths.tolist() == [2]
    with torch.no_grad():
        model.decoder.stop_projection.bias.fill_(-20.0)  # never
    out = model.inference(tokens, max_steps=9)
    assert out.lengths.tolist() == [18] and out.alignments.shape[1] == 9


def test_targets_must_fill_whole_decoder_steps():
    config = tiny_config(reduction_factor=2)
    b = fake_batch(config)
    with pytest.raises(ValueError, match="multiple of reduction_factor"):
        Tacotron(config)(b["tokens"], b["token_lengths"], b["mels"][:, :11])


@pytest.mark.parametrize(("encoder", "postnet"), [("conv", "conv"), ("cbhg", "cbhg")])
def test_every_parameter_updates(encoder, postnet):
    torch.manual_seed(0)
    config = tiny_config(encoder_type=encoder, postnet_type=postnet)
    model = Tacotron(config)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    b = fake_batch(config)
    cfg = trainer.TrainConfig()
    losses = []
    for _ in range(3):
        out = model(b["tokens"], b["token_lengths"], b["mels"], b["mel_lengths"])
        terms = trainer.tacotron_loss(out, b, cfg, step=0, r=config.reduction_factor)
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
        losses.append(terms["total"].item())
    unchanged = [n for n, p in model.named_parameters() if torch.equal(p, before[n])]
    assert not unchanged, unchanged
    assert losses[-1] < losses[0]


def test_guided_attention_prefers_the_diagonal():
    s, n = 12, 8
    diagonal = torch.zeros(1, s, n)
    diagonal[0, torch.arange(s), (torch.arange(s) * n) // s] = 1.0
    anti = diagonal.flip(-1)
    uniform = torch.full((1, s, n), 1.0 / n)
    lengths = (torch.tensor([n]), torch.tensor([s]))
    scores = [float(guided_attention_loss(a, *lengths)) for a in (diagonal, uniform, anti)]
    assert scores[0] < 0.01 < scores[1] < scores[2]
    # Cells outside an item's real length do not count.
    padded = torch.cat([anti, torch.ones(1, s, 4)], dim=-1)
    assert float(guided_attention_loss(padded, *lengths)) == pytest.approx(scores[2], rel=1e-5)


def test_config_checks_and_round_trip():
    with pytest.raises(ValueError, match="encoder_type"):
        TacotronConfig(encoder_type="transformer")
    with pytest.raises(ValueError, match="odd"):
        TacotronConfig(location_kernel_size=30)
    config = tiny_config()
    assert TacotronConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config)))) == config
    with pytest.raises(ValueError, match="unknown"):
        TacotronConfig.from_dict({"n_heads": 4})


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    torch.manual_seed(0)
    model = Tacotron(tiny_config()).eval()
    save_checkpoint(tmp_path / "t.pt", model, audio=dataclasses.asdict(AUDIO), symbols=list(SYMBOLS))
    loaded = load_checkpoint(tmp_path / "t.pt")
    assert loaded.config == model.config and loaded.extra["symbols"] == list(SYMBOLS)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a maum-tacotron checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


# ------------------------------------------------------------------------------------------ text


def test_symbol_table_has_every_modern_jamo_once():
    assert SYMBOLS[:2] == ("_", "~") and len(SYMBOLS) == len(set(SYMBOLS))
    assert (len(LEADS), len(VOWELS), len(TAILS)) == (19, 21, 27)
    assert set(LEADS + VOWELS + TAILS) <= set(SYMBOLS)


def test_text_becomes_normalised_jamo_ending_with_eos():
    encoder = TextEncoder()
    ids = encoder.encode("값 3개!")
    assert ids[-1] == encoder.eos_id and encoder.pad_id not in ids
    # 값 → ㄱ ㅏ ㅄ (a trailing cluster); 3개 is read as 세 개.
    assert encoder.symbols_of("값 3개!") == list(to_jamo("값 세 개!"))
    assert encoder.decode(ids) == "값 세 개!"
    # A trailing ㄱ (각) is not the leading ㄱ (가).
    assert encoder.encode("각")[2] not in encoder.encode("가")
    # Emoji and markup go; spaces collapse; compatibility jamo become conjoining jamo.
    assert encoder.decode(encoder.encode("**안녕**   😀 하세요")) == "안녕 하세요"
    assert to_jamo("ㅠ") == "\u1172"
    assert encoder.encode("😀") == [encoder.eos_id]


def test_checkpoint_symbol_table_is_used_as_saved():
    reordered = TextEncoder(SYMBOLS[:2] + tuple(reversed(SYMBOLS[2:])))
    assert reordered.decode(reordered.encode("마음")) == "마음"
    assert reordered.encode("마음") != TextEncoder().encode("마음")
    with pytest.raises(ValueError, match="distinct"):
        TextEncoder(("_", "~", "a", "a"))


# ------------------------------------------------------------------------------------------ vocoder


@pytest.fixture(scope="module")
def espeak_wav(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("espeak") / "a.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), "마음이 편안해지면 좋겠어요."], check=True)
    return path


def test_griffin_lim_rebuilds_speech_from_mel_and_linear(espeak_wav):
    samples = load_wav(espeak_wav, AUDIO)
    mel, linear = spectrograms(samples, AUDIO)
    assert mel.shape[1] == AUDIO.n_mels and linear.shape == (mel.shape[0], AUDIO.n_linear)
    assert 0.0 <= mel.min() and mel.max() <= 1.0
    for spec in (mel, linear):
        rebuilt = griffin_lim(spec, AUDIO, n_iter=16)
        assert abs(len(rebuilt) - len(samples)) <= AUDIO.hop_length
        assert loudest_dbfs(rebuilt, AUDIO.sample_rate) > -30
        # The rebuilt waveform has the original's spectrum (no phase needed to compare magnitudes).
        again, _ = spectrograms(rebuilt, AUDIO)
        n = min(len(again), len(mel))
        assert np.mean(np.abs(again[:n] - mel[:n])) < 0.08


def test_griffin_lim_keeps_silence_silent_and_checks_shapes():
    assert np.max(np.abs(griffin_lim(np.zeros((40, AUDIO.n_mels)), AUDIO, n_iter=4))) < 1e-3
    assert len(griffin_lim(np.full((2, AUDIO.n_mels), 0.6), AUDIO, n_iter=4)) == 2 * AUDIO.hop_length
    with pytest.raises(ValueError, match="spectrogram"):
        griffin_lim(np.zeros((10, 33)), AUDIO)


# ------------------------------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def kss(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("kss")
    write_espeak_kss(folder, SENTENCES)
    return folder


@pytest.fixture(scope="module")
def trained(kss, tmp_path_factory):
    """The output folder of a tiny Tacotron trained for a few steps through the command line."""
    out = tmp_path_factory.mktemp("run")
    args = ["--data", str(kss), "--out", str(out), "--preset", "tiny", "--steps", str(TRAIN_STEPS),
            "--batch-size", "5", "--schedule", "constant", "--lr", "3e-3", "--plot-every", "10",
            "--log-every", "5", "--save-every", "10", "--device", "cpu", *AUDIO_ARGS]  # fmt: skip
    assert trainer.main(args) == 0
    return out


def test_kss_transcript_columns(kss):
    items = trainer.read_transcript(kss)
    assert [u.text for u in items] == list(SENTENCES)
    assert items[0].path.endswith("1/1_0000.wav") and items[0].duration_s > 0.3
    decomposed = trainer.read_transcript(kss, column="decomposed")
    assert decomposed[1].text == to_jamo(SENTENCES[1])
    with pytest.raises(ValueError, match="text column"):
        trainer.read_transcript(kss, column="english")


def test_espeak_corpus_sentences_are_hangul_only():
    sentences = pick_sentences(30)
    assert len(sentences) == 30 and len(set(sentences)) == 30
    assert all(8 <= len(t) <= 22 and not any(c.isdigit() or c.isascii() and c.isalpha() for c in t) for t in sentences)
    assert pick_sentences(30) == sentences  # seeded


def test_transcript_with_two_columns_and_missing_audio(kss, tmp_path):
    (tmp_path / "list.txt").write_text(f"{kss}/1/1_0000.wav|하나 둘\n\n", encoding="utf-8")
    items = trainer.read_transcript(tmp_path, tmp_path / "list.txt")
    assert items[0].text == "하나 둘" and items[0].duration_s == pytest.approx(sf.info(items[0].path).duration)
    (tmp_path / "transcript.v.1.4.txt").write_text("1/nope.wav|없어요|없어요|x|1.0|x\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="missing"):
        trainer.read_transcript(tmp_path)


def test_training_writes_checkpoint_plots_and_log(trained):
    out = trained
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 5, 10, 15, 20]
    assert log[-1]["total"] < 0.6 * log[0]["total"]  # it learns: measured 2.4 → ~0.9 in 20 steps
    assert {"mel", "postnet", "stop", "guided", "focus", "diagonal"} <= set(log[-1])
    plots = sorted((out / "attention").glob("*.png"))
    assert [p.name for p in plots] == ["step_0000010.png", "step_0000020.png"]
    assert plots[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_checkpoint(out / "tacotron.pt")
    assert loaded.extra["step"] == TRAIN_STEPS and loaded.extra["symbols"] == list(SYMBOLS)
    assert AudioConfig.from_dict(loaded.extra["audio"]) == AUDIO
    assert loaded.config.n_mels == AUDIO.n_mels and loaded.config.vocab_size == len(SYMBOLS)
    assert "/" not in loaded.extra["train"]["data"]  # folder names only, not this machine's paths


def test_resume_continues_from_the_saved_step(trained, kss, tmp_path):
    out = trained
    resumed_out = tmp_path / "resumed"
    args = ["--data", str(kss), "--out", str(resumed_out), "--resume", str(out / "tacotron.pt"),
            "--steps", str(TRAIN_STEPS + 3), "--batch-size", "5", "--plot-every", "0", "--log-every", "1",
            "--schedule", "constant", "--lr", "3e-3", "--device", "cpu"]  # fmt: skip
    assert trainer.main(args) == 0
    log = [json.loads(line) for line in (resumed_out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [TRAIN_STEPS + 1, TRAIN_STEPS + 2, TRAIN_STEPS + 3]
    first = load_checkpoint(out / "tacotron.pt")
    again = load_checkpoint(resumed_out / "tacotron.pt")
    assert again.extra["step"] == TRAIN_STEPS + 3 and again.config == first.config
    # The optimiser state came along: Adam counts every step, before and after the resume.
    adam_steps = {float(s["step"]) for s in again.extra["optimizer"]["state"].values()}
    assert adam_steps == {float(TRAIN_STEPS + 3)}
    # And it carried on from the trained loss instead of starting over.
    assert log[0]["total"] < 1.5 * json.loads((out / "train_log.jsonl").read_text().splitlines()[-1])["total"]


# ------------------------------------------------------------------------------------------ backend


def tacotron_settings(checkpoint) -> Settings:
    return Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="tacotron",
                    tacotron_checkpoint=str(checkpoint), device="cpu", griffin_lim_iters=8)  # fmt: skip


def test_backend_speaks_a_turn_from_the_trained_checkpoint(trained):
    out = trained
    settings = tacotron_settings(out / "tacotron.pt")
    synthesizer = registry.create("synthesizer", "tacotron", settings)
    assert isinstance(synthesizer, Synthesizer)
    result = Pipeline(settings, synthesizer=synthesizer).run_text("오늘 기뻐요")
    assert result.synthesis_error == "" and result.speech is not None
    samples, rate = sf.read(io.BytesIO(result.speech.wav), dtype="float32")
    assert rate == result.speech.sample_rate == AUDIO.sample_rate
    assert result.speech.duration_s == pytest.approx(len(samples) / rate, abs=1e-3) and len(samples) / rate > 0.2
    assert loudest_dbfs(samples, rate) > -45  # not silence
    assert result.timings_ms["synthesize"] > 0


def test_backend_reads_long_replies_sentence_by_sentence_and_follows_tone(trained):
    out = trained
    synthesizer = registry.create("synthesizer", "tacotron", tacotron_settings(out / "tacotron.pt"))
    torch.manual_seed(0)  # the decoder prenet keeps dropout on at inference
    one = synthesizer.synthesize("천천히 말해요.")
    torch.manual_seed(0)
    slow = synthesizer.synthesize("천천히 말해요.", tone="crisis")
    assert slow.duration_s / one.duration_s == pytest.approx(1 / 0.85, rel=0.03)
    torch.manual_seed(0)
    two = synthesizer.synthesize("천천히 말해요. 마음이 편안해요.")
    assert two.duration_s > one.duration_s + 0.25
    with pytest.raises(BackendError):
        synthesizer.synthesize("😀 ^^")


def test_backend_refuses_missing_or_wrong_checkpoints(trained, tmp_path):
    with pytest.raises(ModelFilesError, match="MAUM_TACOTRON_CHECKPOINT is empty") as err:
        registry.create("synthesizer", "tacotron", Settings())
    assert err.value.code == "model_files_invalid"
    with pytest.raises(ModelFilesError, match="no such file"):
        registry.create("synthesizer", "tacotron", tacotron_settings(tmp_path / "nope.pt"))
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ModelFilesError, match="not a usable Tacotron checkpoint"):
        registry.create("synthesizer", "tacotron", tacotron_settings(tmp_path / "text.pt"))
    out = trained
    loaded = load_checkpoint(out / "tacotron.pt")
    save_checkpoint(tmp_path / "short.pt", loaded.model, audio=loaded.extra["audio"], symbols=list(SYMBOLS[:-1]))
    with pytest.raises(ModelFilesError, match="do not match the model"):
        registry.create("synthesizer", "tacotron", tacotron_settings(tmp_path / "short.pt"))


def test_decoder_steps_round_up():
    assert decoder_steps(torch.tensor([1, 2, 3, 4]), 2).tolist() == [1, 1, 2, 2]
