"""The ``vits`` synthesizer on a tiny random VitsModel + tokenizer saved in the test (no downloads)."""

from __future__ import annotations

import importlib.util
import io
import json

import pytest
import soundfile as sf
import torch

from pipeline import registry
from pipeline.errors import BackendError, MissingDependencyError, ModelFilesError
from pipeline.settings import Settings
from pipeline.speech.tts_text import LEADS, TAILS, VOWELS
from pipeline.stages import Synthesizer
from pipeline.text.normalize import normalize
from pipeline.turn import Pipeline

transformers = pytest.importorskip("transformers")

TEXTS = ("오늘 하루 어떠셨어요? 3시에 다시 이야기해요.", "1번째 이야기 잘 들었어요.", "천천히 말해요. 마음이 편안해요.",
         "109에 전화하세요.")  # fmt: skip


def tiny_vits(folder, characters, **tokenizer_options) -> None:
    """Save a random VITS with hidden size 16 and a character vocabulary (pad first) in ``folder``."""
    torch.manual_seed(0)
    vocab = {ch: i for i, ch in enumerate(["_", *sorted(set(characters) - {"_"})])}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    options = {"add_blank": True, "normalize": True, "phonemize": False, "is_uroman": False, **tokenizer_options}
    tokenizer = transformers.VitsTokenizer(
        str(folder / "vocab.json"), pad_token="_", unk_token="<unk>", language="kor", **options
    )
    config = transformers.VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1, duration_predictor_filter_channels=16, depth_separable_num_layers=1,
        sampling_rate=16000,
    )  # fmt: skip
    transformers.VitsModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def hangul_model(tmp_path_factory):
    """A model whose vocabulary is the Hangul syllables (and punctuation) of ``TEXTS`` once normalised."""
    folder = tmp_path_factory.mktemp("vits-hangul")
    tiny_vits(folder, "".join(normalize(t) for t in TEXTS))
    return folder


def vits_settings(folder) -> Settings:
    return Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="vits",
                    vits_model=str(folder), device="cpu")  # fmt: skip


def read(speech):
    samples, rate = sf.read(io.BytesIO(speech.wav), dtype="float32")
    assert rate == speech.sample_rate and speech.duration_s == pytest.approx(len(samples) / rate, abs=1e-3)
    return samples, rate


def test_vits_speaks_normalised_korean(hangul_model):
    synthesizer = registry.create("synthesizer", "vits", vits_settings(hangul_model))
    assert isinstance(synthesizer, Synthesizer) and synthesizer.name == f"vits:{hangul_model.name}"
    speech = synthesizer.synthesize(TEXTS[0])  # "3시" is only in the vocabulary as 세 시
    samples, rate = read(speech)
    assert rate == 16000 and len(samples) > 0 and float(abs(samples).max()) > 0.01
    assert speech.latency_ms > 0
    # Digits are not in the vocabulary: "109" is readable only as the normaliser's 일공구.
    assert read(synthesizer.synthesize("109"))[0].size > 0


def test_vits_joins_sentences_with_a_pause(hangul_model):
    synthesizer = registry.create("synthesizer", "vits", vits_settings(hangul_model))
    torch.manual_seed(0)
    first = synthesizer.waveform("천천히 말해요.")
    second = synthesizer.waveform("마음이 편안해요.")
    torch.manual_seed(0)
    both, rate = read(synthesizer.synthesize(TEXTS[2]))
    assert len(both) == len(first) + int(0.25 * rate) + len(second)
    assert float(abs(both[len(first) : len(first) + int(0.25 * rate)]).max()) == 0.0


def test_vits_through_a_whole_turn(hangul_model):
    result = Pipeline(vits_settings(hangul_model)).run_text("오늘 기뻐요")  # fake reply: 1번째 이야기 잘 들었어요.
    assert result.synthesis_error == "" and result.speech is not None
    samples, _ = read(result.speech)
    assert len(samples) > 0 and result.timings_ms["synthesize"] > 0


def test_vits_with_jamo_vocabulary_gets_jamo(tmp_path):
    tiny_vits(tmp_path / "jamo", [*LEADS, *VOWELS, *TAILS, " ", ".", ",", "?", "!"])
    synthesizer = registry.create("synthesizer", "vits", vits_settings(tmp_path / "jamo"))
    assert synthesizer.wants_jamo
    samples, _ = read(synthesizer.synthesize("안녕하세요."))
    assert len(samples) > 0


def test_text_outside_the_vocabulary_is_a_clear_error(hangul_model):
    synthesizer = registry.create("synthesizer", "vits", vits_settings(hangul_model))
    with pytest.raises(BackendError, match="none of the characters"):
        synthesizer.synthesize("뷁")
    # One unreadable sentence among readable ones is skipped, not fatal.
    samples, _ = read(synthesizer.synthesize("뷁뷁뷁 뷁뷁. 천천히 말해요."))
    assert len(samples) > 0


def test_missing_or_wrong_model_folder(tmp_path):
    with pytest.raises(ModelFilesError, match="MAUM_VITS_MODEL is empty") as err:
        registry.create("synthesizer", "vits", Settings(synthesizer="vits"))
    assert err.value.code == "model_files_invalid"
    with pytest.raises(ModelFilesError, match="no config.json"):
        registry.create("synthesizer", "vits", vits_settings(tmp_path / "nowhere"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"model_type": "vits"}')
    with pytest.raises(ModelFilesError, match="not a usable VITS model"):
        registry.create("synthesizer", "vits", vits_settings(tmp_path / "broken"))


@pytest.fixture(scope="module")
def romanising_model(tmp_path_factory):
    """Shaped like MMS-TTS Korean (facebook/mms-tts-kor): is_uroman=true, a Latin-letter vocabulary."""
    folder = tmp_path_factory.mktemp("vits-mms")
    tiny_vits(folder, "abcdefghijklmnopqrstuvwxyz '.,?!", is_uroman=True)
    return folder


def test_romanising_model_speaks_hangul(romanising_model, monkeypatch):
    synthesizer = registry.create("synthesizer", "vits", vits_settings(romanising_model))
    assert synthesizer.romaniser.romanize_string("오늘 하루 정말") == "oneul haru jeongmal"
    seen = []
    tokenize = synthesizer.tokenizer.__call__
    monkeypatch.setattr(synthesizer, "tokenizer", lambda text, **kw: seen.append(text) or tokenize(text, **kw))
    samples, _ = read(synthesizer.synthesize("오늘 하루 어떠셨어요? 3시에 다시 이야기해요."))
    assert len(samples) > 0 and float(abs(samples).max()) > 0.01
    # Numbers are read out in Hangul first, then every sentence reaches the tokenizer romanised
    # the way uroman romanised MMS training text (ㄸ as dd).
    assert seen == ["oneul haru eoddeosyeosseoyo?", "se sie dasi iyagihaeyo."]


def test_romanising_model_without_uroman_says_what_to_install(romanising_model, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uroman" else find_spec(name, *a))
    with pytest.raises(MissingDependencyError, match="pip install uroman"):
        registry.create("synthesizer", "vits", vits_settings(romanising_model))
