"""DeepSpeech2 and its data: shapes and lengths, training steps, checkpoints, CTC decoding,
vocabularies, features, the tri-stage schedule, KsponSpeech preparation, the backend's errors."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from models.deepspeech2 import (
    DeepSpeech2,
    DeepSpeech2Config,
    ctc_greedy_decode,
    ctc_prefix_beam_search,
    load_checkpoint,
    save_checkpoint,
)
from pipeline import registry
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.speech.asr_features import FeatureConfig, extract_features
from pipeline.speech.asr_noise import make_noise, mix_at_snr
from pipeline.speech.asr_vocab import Vocabulary, normalize_transcript, unit_error_rate
from tests.samples import tone
from training.asr_data import AugmentConfig, read_manifest, read_pcm, spec_augment
from training.asr_schedule import TriStageSchedule, tri_stage_scheduler
from training.prepare_kspon import PrepareOptions, clean_kspon_text, prepare


@pytest.fixture(autouse=True)
def one_thread():
    # Two shared cores: several torch threads only fight over them.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**kw) -> DeepSpeech2Config:
    base = dict(
        vocab_size=11, n_features=20, conv_channels=(4, 4), conv_kernel_sizes=((5, 5), (5, 5)),
        conv_strides=((2, 2), (2, 1)), rnn_layers=2, rnn_hidden_size=8, dropout=0.0,
    )  # fmt: skip
    return DeepSpeech2Config(**{**base, **kw})


# --------------------------------------------------------------------------------------------
# The model


def test_defaults_follow_the_reference_setup():
    cfg = DeepSpeech2Config()
    assert len(cfg.conv_channels) == 3 and cfg.rnn_type == "gru" and cfg.rnn_layers == 5
    assert cfg.rnn_hidden_size == 512 and cfg.bidirectional and cfg.batch_norm_momentum == 0.99
    # Keras momentum 0.99 keeps 99 % of the running statistic; PyTorch's parameter is the other 1 %.
    model = DeepSpeech2(tiny_config(batch_norm_momentum=0.99))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(math.isclose(m.momentum, 0.01) for m in norms)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"rnn_type": "lstm"},
        {"bidirectional": False},
        {"conv_channels": (4, 4, 6), "conv_kernel_sizes": ((5, 5),) * 3, "conv_strides": ((2, 2), (2, 1), (1, 2))},
    ],
)
def test_output_shapes_and_lengths(overrides):
    cfg = tiny_config(**overrides)
    model = DeepSpeech2(cfg).eval()
    lengths = torch.tensor([50, 37, 9])
    feats = torch.randn(3, 20, 50)
    with torch.inference_mode():
        log_probs, out_lengths = model(feats, lengths)
    reduction = cfg.time_reduction
    expected = [math.ceil(n / reduction) for n in lengths.tolist()]
    assert out_lengths.tolist() == expected
    assert log_probs.shape == (3, math.ceil(50 / reduction), cfg.vocab_size)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)
    # Masking: each utterance alone gives the same frames as inside the padded batch.
    for i, n in enumerate(lengths.tolist()):
        with torch.inference_mode():
            alone, alone_len = model(feats[i : i + 1, :, :n], lengths[i : i + 1])
        assert alone_len.item() == expected[i]
        assert torch.allclose(alone[0], log_probs[i, : expected[i]], atol=1e-5)


def test_padding_content_does_not_leak_into_real_frames():
    model = DeepSpeech2(tiny_config()).eval()
    feats = torch.randn(1, 20, 40)
    garbage = feats.clone()
    garbage[:, :, 30:] = 1e3
    with torch.inference_mode():
        a, la = model(feats, torch.tensor([30]))
        b, _ = model(garbage, torch.tensor([30]))
    assert torch.allclose(a[0, : la[0]], b[0, : la[0]], atol=1e-5)


def test_bad_config_and_input_are_refused():
    with pytest.raises(ValueError, match="gru or lstm"):
        DeepSpeech2Config(rnn_type="transformer")
    with pytest.raises(ValueError, match="one entry per layer"):
        DeepSpeech2Config(conv_channels=(32,))
    with pytest.raises(ValueError, match="blank_id"):
        DeepSpeech2Config(vocab_size=3, blank_id=3)
    with pytest.raises(ValueError, match="features"):
        DeepSpeech2(tiny_config())(torch.randn(1, 21, 10), torch.tensor([10]))
    with pytest.raises(ValueError, match="frequency kernel of 41 over only 20 bins"):
        DeepSpeech2(DeepSpeech2Config(n_features=20))  # the reference kernels need more bins


def test_every_parameter_changes_after_a_few_steps():
    torch.manual_seed(0)
    model = DeepSpeech2(tiny_config()).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    running = {n: b.clone() for n, b in model.named_buffers() if "running_mean" in n}
    from adamp import AdamP

    optimizer = AdamP(model.parameters(), lr=1e-2)
    feats = torch.randn(4, 20, 40)
    lengths = torch.tensor([40, 35, 30, 22])
    targets = torch.randint(1, 11, (4, 6))
    target_lengths = torch.tensor([6, 5, 4, 3])
    for _ in range(3):
        log_probs, out_lengths = model(feats, lengths)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 400.0)
        optimizer.step()
    unchanged = [n for n, p in model.named_parameters() if torch.equal(p, before[n])]
    assert not unchanged, f"parameters that never changed: {unchanged}"
    assert all(not torch.equal(b, running[n]) for n, b in model.named_buffers() if n in running)


def test_checkpoint_save_load_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = DeepSpeech2(tiny_config(rnn_type="lstm"))
    model.train()
    model(torch.randn(2, 20, 30), torch.tensor([30, 20]))  # move the BatchNorm running statistics
    model.eval()
    vocab = Vocabulary("syllable", ("<blank>", " ", "가", "나", "다", "라", "마", "바", "사", "아", "자"))
    features = FeatureConfig(kind="fbank", n_mels=20)
    path = tmp_path / "ckpt" / "best.pt"
    save_checkpoint(path, model, features=features.to_dict(), vocab=vocab.to_dict(), metrics={"cer": 0.5})
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    assert FeatureConfig.from_dict(loaded.extra["features"]) == features
    assert Vocabulary.from_dict(loaded.extra["vocab"]) == vocab and loaded.extra["metrics"] == {"cer": 0.5}
    feats, lengths = torch.randn(2, 20, 33), torch.tensor([33, 25])
    with torch.inference_mode():
        expected, _ = model(feats, lengths)
        actual, _ = loaded.model.eval()(feats, lengths)
    assert torch.equal(expected, actual)
    # Plain data only: the file loads with weights_only=True and holds no pickled classes.
    raw = torch.load(path, weights_only=True)
    assert isinstance(raw["config"], dict) and raw["config"]["rnn_type"] == "lstm"


def test_foreign_files_are_not_checkpoints(tmp_path):
    bad = tmp_path / "x.pt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(ValueError, match="not a maum-deepspeech2"):
        load_checkpoint(bad)
    (tmp_path / "y.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "y.pt")


# --------------------------------------------------------------------------------------------
# CTC decoding


def test_beam_search_finds_what_greedy_misses_on_a_toy_matrix():
    # Two frames, blank 0.6 / "a" 0.4 each. Greedy takes blank, blank → "". But "a" has three
    # alignments (a a, a -, - a): 0.16 + 0.24 + 0.24 = 0.64 > 0.36.
    probs = np.array([[0.6, 0.4], [0.6, 0.4]])
    log_probs = torch.from_numpy(np.log(probs))[None]
    assert ctc_greedy_decode(log_probs, blank_id=0) == [[]]
    best = ctc_prefix_beam_search(np.log(probs), beam_width=4, blank_id=0)
    assert best[0][0] == [1] and math.isclose(best[0][1], math.log(0.64), rel_tol=1e-9)
    assert best[1][0] == [] and math.isclose(best[1][1], math.log(0.36), rel_tol=1e-9)


def _exact_sequence_probabilities(probs: np.ndarray, blank: int = 0) -> dict[tuple[int, ...], float]:
    """Sum over every alignment path, by brute force."""
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        collapsed = [k for k, _ in itertools.groupby(path) if k != blank]
        p = float(np.prod([probs[t, k] for t, k in enumerate(path)]))
        out[tuple(collapsed)] = out.get(tuple(collapsed), 0.0) + p
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_beam_search_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3), size=5)  # 5 frames, blank + 2 units, with repeats possible
    exact = _exact_sequence_probabilities(probs)
    best_seq, best_p = max(exact.items(), key=lambda kv: kv[1])
    found = ctc_prefix_beam_search(np.log(probs), beam_width=50, blank_id=0, top_k=3, min_log_prob=-1e9)
    assert tuple(found[0][0]) == best_seq
    assert math.isclose(math.exp(found[0][1]), best_p, rel_tol=1e-6)
    for seq, score in found:
        assert math.isclose(math.exp(score), exact[tuple(seq)], rel_tol=1e-6)


def test_beam_equals_greedy_on_a_peaky_matrix():
    ids = [0, 3, 3, 0, 3, 5, 5, 0, 2]
    log_probs = torch.full((len(ids), 6), -20.0)
    log_probs[torch.arange(len(ids)), torch.tensor(ids)] = 0.0
    greedy = ctc_greedy_decode(log_probs[None], blank_id=0)[0]
    assert greedy == [3, 3, 5, 2]  # a blank between the two 3s keeps them apart
    assert ctc_prefix_beam_search(log_probs, beam_width=8)[0][0] == greedy


# --------------------------------------------------------------------------------------------
# Vocabularies, features, augmentation, noise


def test_syllable_and_jamo_vocabularies_round_trip():
    texts = ["오늘 기분이 좋아요.", "마음이 편안해요!"]
    syl = Vocabulary.build("syllable", texts)
    assert syl.tokens[0] == "<blank>" and " " in syl.tokens and "." not in syl.tokens
    assert syl.decode(syl.encode(texts[0])) == "오늘 기분이 좋아요"
    jamo = Vocabulary.build("jamo", texts)
    assert len(jamo) < len(syl) + 10 and all(len(t) == 1 for t in jamo.tokens[1:])
    assert jamo.decode(jamo.encode(texts[1])) == "마음이 편안해요"
    assert syl.unknown_units("햇빛") == ["햇", "빛"] and syl.encode("햇빛") == []
    assert Vocabulary.from_dict(json.loads(json.dumps(syl.to_dict()))) == syl
    assert normalize_transcript("  70%,  확률?! ") == "70% 확률"


def test_ipa_vocabulary_has_the_36_phonemes():
    from pipeline.pronunciation.g2p import to_ipa_symbols
    from pipeline.pronunciation.ipa import IPA_SYMBOLS

    vocab = Vocabulary.build("ipa", ["anything"])
    assert len(vocab) == 37 and set(vocab.tokens[1:]) == set(IPA_SYMBOLS)
    units = vocab.units("국물 맛있어요")
    assert units == [s for s in to_ipa_symbols("국물 맛있어요") if s != " "]
    assert vocab.decode_units(vocab.encode("국물")) == ["k", "u", "ŋ", "m", "u", "l"]
    assert unit_error_rate([["k", "u", "ŋ"]], [["k", "u"]]) == pytest.approx(1 / 3)


@pytest.mark.parametrize("kind", ["logmel", "fbank", "mfcc", "spectrogram"])
def test_feature_kinds(kind):
    cfg = FeatureConfig(kind=kind)
    samples = tone(1.0) + 0.01 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    feats = extract_features(samples, cfg)
    assert feats.shape == (cfg.n_features, cfg.frames(16000)) == (cfg.n_features, 101)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    assert np.allclose(feats.mean(axis=1), 0.0, atol=1e-3)  # per-utterance normalisation
    assert {"logmel": 80, "fbank": 80, "mfcc": 40, "spectrogram": 161}[kind] == cfg.n_features


def test_spec_augment_masks_bands_and_stretches():
    import random

    feats = torch.ones(80, 400)
    cfg = AugmentConfig(freq_masks=2, freq_mask_width=10, time_masks=2, time_mask_ratio=0.05)
    masked = spec_augment(feats, cfg, random.Random(3))
    assert torch.equal(feats, torch.ones(80, 400))  # a new tensor
    zero_rows = int((masked == 0).all(dim=1).sum())
    zero_cols = int((masked == 0).all(dim=0).sum())
    assert 0 < zero_rows <= 20 and 0 < zero_cols <= 40


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [20.0, 0.0])
def test_noise_is_mixed_at_the_asked_snr(kind, snr):
    rng = np.random.default_rng(0)
    speech = 0.1 * tone(2.0, freq=180.0)
    noise = make_noise(kind, len(speech), rng, talkers=[tone(0.7, freq=300.0), tone(0.5, freq=500.0)])
    mixed = mix_at_snr(speech, noise, snr)
    residual = mixed - speech
    measured = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(residual.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr, abs=0.05)


# --------------------------------------------------------------------------------------------
# Tri-stage learning-rate schedule


def test_tri_stage_schedule_shape(tmp_path):
    sched = TriStageSchedule(warmup_steps=10, hold_steps=20, decay_steps=30, init_scale=0.01, final_scale=0.05)
    values = [sched(s) for s in range(80)]
    assert values[0] == pytest.approx(0.01)
    assert all(b > a for a, b in zip(values[:10], values[1:11], strict=True))  # warm-up rises linearly
    assert np.allclose(np.diff(values[:11]), 0.099)
    assert values[10:30] == [1.0] * 20  # hold at the peak
    decay = values[30:60]
    ratios = np.array(decay[1:]) / np.array(decay[:-1])
    assert np.allclose(ratios, ratios[0]) and ratios[0] < 1  # exponential decay
    assert values[60:] == [pytest.approx(0.05)] * 20  # then the final rate
    # A LambdaLR on it follows the shape and survives a weights_only checkpoint.
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=1e-3)
    scheduler = tri_stage_scheduler(opt, TriStageSchedule.from_ratios(100, 0.1, 0.4))
    for _ in range(30):
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(1e-3)
    torch.save(scheduler.state_dict(), tmp_path / "s.pt")
    fresh = tri_stage_scheduler(torch.optim.AdamW([param], lr=1e-3), TriStageSchedule(1, 1, 1))
    fresh.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert fresh.lr_lambdas[0] == TriStageSchedule.from_ratios(100, 0.1, 0.4) and fresh.last_epoch == 30


# --------------------------------------------------------------------------------------------
# KsponSpeech


@pytest.mark.parametrize(
    ("raw", "orthography", "pronunciation", "fluent"),
    [
        ("b/ (70%)/(칠십 퍼센트) 확률이라니 아/ 뭐+ 그렇게 돼?",
         "70% 확률이라니 아 뭐 그렇게 돼", "칠십 퍼센트 확률이라니 아 뭐 그렇게 돼", "70% 확률이라니 그렇게 돼"),
        ("b/ (70%)/(칠 십 퍼센트) 확률이라니 아/ (뭐+ 뭔)/(모+ 몬) 소리야 진짜 (100%)(백 프로)가 왜 안돼? n/",
         "70% 확률이라니 아 뭐 뭔 소리야 진짜 100%가 왜 안돼",
         "칠 십 퍼센트 확률이라니 아 모 몬 소리야 진짜 백 프로가 왜 안돼",
         "70% 확률이라니 뭔 소리야 진짜 100%가 왜 안돼"),
        ("o/ n/ 그래서 (3G)/(쓰리 쥐) 폰을 샀는데 l/", "그래서 3G 폰을 샀는데", "그래서 쓰리 쥐 폰을 샀는데",
         "그래서 3G 폰을 샀는데"),
        ("음/ 그/ 근데 *그거 진짜야? b/", "음 그 근데 그거 진짜야", "음 그 근데 그거 진짜야", "근데 그거 진짜야"),
        ("l/ 그 +사람이 (SNS)/(에스엔에스)에 올렸어.", "그 사람이 SNS에 올렸어", "그 사람이 에스엔에스에 올렸어",
         "사람이 SNS에 올렸어"),
    ],
)  # fmt: skip
def test_kspon_cleaner_on_real_format_lines(raw, orthography, pronunciation, fluent):
    line = clean_kspon_text(raw, "orthography")
    assert line is not None and line.text == orthography and line.pronunciation == pronunciation
    assert clean_kspon_text(raw, "pronunciation").text == pronunciation
    assert clean_kspon_text(raw, "orthography", fluent=True).text == fluent


def test_kspon_cleaner_skips_unintelligible_and_empty_lines():
    assert clean_kspon_text("u/ 그냥 뭐 그렇지 뭐. n/") is None
    kept = clean_kspon_text("u/ 그냥 뭐 그렇지 뭐. n/", keep_unintelligible=True)
    assert kept is not None and kept.text == "그냥 뭐 그렇지 뭐"
    assert clean_kspon_text("b/ n/ l/") is None
    assert clean_kspon_text("아/ 어/", fluent=True) is None
    with pytest.raises(ValueError, match="notation"):
        clean_kspon_text("네", "phonetic")


def test_pcm_is_16_bit_little_endian_mono(tmp_path):
    values = np.array([0, 1, -1, 32767, -32768, 1000], dtype="<i2")
    path = tmp_path / "a.pcm"
    path.write_bytes(values.tobytes() + b"\x07")  # a stray half sample at the end is ignored
    samples = read_pcm(path)
    assert samples.dtype == np.float32 and samples.tolist() == pytest.approx((values / 32768.0).tolist())


def _fake_kspon(root, with_scripts: bool):
    lines = {
        "KsponSpeech_000001": "b/ (70%)/(칠십 퍼센트) 확률이라니 아/ 뭐+ 그렇게 돼?",
        "KsponSpeech_000002": "o/ 오늘 기분이 좋아요 n/",
        "KsponSpeech_000003": "u/ 잘 안 들려",
        "KsponSpeech_000004": "음/ 국물이 맛있어요",
    }
    folder = root / "KsponSpeech_01" / "KsponSpeech_0001"
    folder.mkdir(parents=True)
    pcm = (tone(1.0) * 20000).astype("<i2").tobytes()
    trn = []
    for i, (name, text) in enumerate(lines.items()):
        (folder / f"{name}.pcm").write_bytes(pcm[: 32000 - 2000 * i])
        (folder / f"{name}.txt").write_bytes(text.encode("cp949"))  # as distributed
        trn.append(f"KsponSpeech_01/KsponSpeech_0001/{name}.pcm :: {text}")
    if with_scripts:
        scripts = root / "KsponSpeech_scripts"
        scripts.mkdir()
        (scripts / "train.trn").write_text("\n".join(trn[:3]) + "\n", encoding="utf-8")
        (scripts / "dev.trn").write_text(trn[3] + "\n", encoding="utf-8")


@pytest.mark.parametrize("with_scripts", [True, False])
def test_prepare_kspon_writes_manifests_and_vocabularies(tmp_path, with_scripts):
    _fake_kspon(tmp_path / "kspon", with_scripts)
    out = tmp_path / "prepared"
    report = prepare(tmp_path / "kspon", out, PrepareOptions(ipa=True), dev_count=1)
    train = read_manifest(out / "train.tsv")
    dev = read_manifest(out / "dev.tsv")
    assert report["train"]["skipped"] == 1  # the u/ line
    assert [u.text for u in train] == ["70% 확률이라니 아 뭐 그렇게 돼", "오늘 기분이 좋아요"]
    assert [u.text for u in dev] == ["음 국물이 맛있어요"]
    assert train[0].duration_s == pytest.approx(1.0) and train[1].duration_s == pytest.approx(0.9375, abs=1e-3)
    # IPA from the pronunciation side: 칠십 퍼센트, not 70%.
    from pipeline.pronunciation.g2p import to_ipa_symbols

    assert train[0].ipa[:3] == ("tɕʰ", "i", "l")
    assert train[0].ipa == tuple(s for s in to_ipa_symbols("칠십 퍼센트 확률이라니 아 뭐 그렇게 돼") if s != " ")
    assert len(read_pcm(train[0].path)) == 16000
    vocabs = {
        kind: Vocabulary.from_dict(json.loads((out / f"vocab_{kind}.json").read_text(encoding="utf-8")))
        for kind in ("syllable", "jamo", "ipa")
    }
    # Built from the training split only (the dev sentence's 국물 is not in it).
    assert set(vocabs["syllable"].tokens) == {"<blank>"} | set("70% 확률이라니 아 뭐 그렇게 돼" + "오늘 기분이 좋아요")
    assert vocabs["jamo"].decode(vocabs["jamo"].encode("오늘 기분이")) == "오늘 기분이"
    assert len(vocabs["ipa"]) == 37


# --------------------------------------------------------------------------------------------
# The backend's errors and the training script's resume


def test_backend_errors_are_clear(tmp_path):
    with pytest.raises(ModelFilesError, match="MAUM_DEEPSPEECH2_CHECKPOINT is empty"):
        registry.create("transcriber", "deepspeech2", Settings())
    with pytest.raises(ModelFilesError, match="no such file"):
        registry.create("transcriber", "deepspeech2", Settings(deepspeech2_checkpoint=str(tmp_path / "none.pt")))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFilesError, match="not a usable DeepSpeech2 checkpoint"):
        registry.create("transcriber", "deepspeech2", Settings(deepspeech2_checkpoint=str(junk)))
    weights_only = tmp_path / "weights.pt"
    save_checkpoint(weights_only, DeepSpeech2(tiny_config()))  # no features, no vocabulary
    with pytest.raises(ModelFilesError, match="features"):
        registry.create("transcriber", "deepspeech2", Settings(deepspeech2_checkpoint=str(weights_only)))


def test_training_resumes_where_it_stopped(tmp_path, capsys):
    from training import train_deepspeech2

    data = tmp_path / "data"
    (data / "audio").mkdir(parents=True)
    rows = ["file\ttranscript"]
    for i, text in enumerate(["가나", "다라", "마바", "?!"]):  # the last has nothing to learn: skipped
        sf.write(data / "audio" / f"{i}.wav", tone(0.6, freq=200.0 + 90 * i), 16000)
        rows.append(f"{i}.wav\t{text}")
    (data / "transcripts.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    common = [
        "--train", str(data), "--valid", str(data), "--out", str(out), "--num-workers", "0", "--device", "cpu",
        "--threads", "1", "--progress", "false", "--batch-size", "2", "--conv-layers", "2",
        "--conv-channels", "[4, 4]", "--rnn-layers", "1", "--rnn-hidden-size", "8", "--feature-n-mels", "40",
        "--noise-prob", "0.5",
    ]  # fmt: skip
    assert train_deepspeech2.main([*common, "--epochs", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["train_utterances"] == 3 and summary["skipped_utterances"] == 1
    first = torch.load(out / "last.pt", weights_only=True)
    assert first["epoch"] == 1 and first["step"] == 4  # two batches per epoch
    assert train_deepspeech2.main([*common, "--epochs", "3", "--resume", str(out / "last.pt")]) == 0
    second = torch.load(out / "last.pt", weights_only=True)
    assert second["epoch"] == 2 and second["step"] == 6 and len(second["history"]) == 3
    assert [r["epoch"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())] == [1, 2, 3]
    assert not torch.equal(first["state_dict"]["head.fc.weight"], second["state_dict"]["head.fc.weight"])
    best = load_checkpoint(out / "best.pt")
    assert "optimizer" not in best.extra and Vocabulary.from_dict(best.extra["vocab"]).kind == "syllable"
    assert json.loads((out / "vocab.json").read_text(encoding="utf-8"))["tokens"][0] == "<blank>"
