"""The kogpt2 responder, its safety rails and its fine-tuning script, on a tiny random GPT-2 built here.

The "pretrained" base is a 2-layer GPT-2 with hidden size 16 and a byte-level BPE vocabulary
trained on Korean sentences with the ``tokenizers`` library. Fine-tuned for a few steps it writes
garbage (which the rails must catch); fine-tuned to memorise one exchange it writes that reply
(which the rails must let through).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

from pipeline import registry
from pipeline.backends.fake_responder import FakeResponder
from pipeline.backends.kogpt2 import (
    FORMAT_TOKENS,
    PROMPT_FORMAT,
    WATCH_NOTE,
    Exchange,
    KoGPT2Responder,
    encode_example,
    encode_prompt,
    encode_text,
    format_ids,
    prepare_tokenizer,
)
from pipeline.care import generation_safety as rails
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.stages import Responder
from pipeline.turn import Pipeline
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Risk
from tests.samples import bigram_embed
from training import finetune_kogpt2 as ft

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
QA = DATA / "text_models_chatbot.csv"
DIALOGUES = DATA / "text_models_dialogues.jsonl"
QUESTION, ANSWER = "오늘 날씨 좋다", "햇살이 좋은 날이네요. 잠깐 산책해 보는 건 어때요?"

torch.set_num_threads(1)


def emotion(label: str) -> Emotion:
    return Emotion(label=label, scores={lab: (0.94 if lab == label else 0.01) for lab in EMOTION_LABELS})


def korean_sample() -> list[str]:
    with open(REPO / "training" / "data" / "emotion" / "train.tsv", encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    with open(QA, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            texts += [row["Q"], row["A"]]
    return texts


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    """A tiny 'pretrained' GPT-2 folder with a byte-level BPE tokenizer, as a hub download looks."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        korean_sample(), vocab_size=1000, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False
    )
    model = json.loads(bpe._tokenizer.to_str())["model"]
    tokenizer = GPT2Tokenizer(vocab=model["vocab"], merges=[tuple(m) for m in model["merges"]])
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=16, n_layer=2, n_head=2, n_positions=256, bos_token_id=0, eos_token_id=0,
        initializer_range=0.1,  # wider than 0.02 so that a hidden-16 model memorises quickly
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-gpt2-base")
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tuned_dir(base_dir, tmp_path_factory) -> Path:
    """The fine-tune script run for a few steps on both input formats: still a random model."""
    out = tmp_path_factory.mktemp("kogpt2-few-steps")
    code = ft.main([
        "--base", str(base_dir), "--out", str(out), "--qa", str(QA), "--dialogues", str(DIALOGUES),
        "--max-steps", "4", "--eval-every", "2", "--batch-size", "4", "--device", "cpu", "--threads", "1",
    ])  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="module")
def memorised_dir(base_dir, tmp_path_factory) -> Path:
    """The fine-tune script run until the model has learnt one exchange by heart."""
    tmp = tmp_path_factory.mktemp("kogpt2-memorised")
    data = tmp / "one.csv"
    data.write_text(f"Q,A,label\n{QUESTION},{ANSWER},0\n{QUESTION},{ANSWER},0\n", encoding="utf-8")
    code = ft.main([
        "--base", str(base_dir), "--out", str(tmp / "model"), "--qa", str(data), "--epochs", "120",
        "--lr", "1e-2", "--warmup-ratio", "0", "--weight-decay", "0", "--eval-every", "40", "--patience", "100",
        "--device", "cpu", "--threads", "1",
    ])  # fmt: skip
    assert code == 0
    return tmp / "model"


def settings_for(folder: Path, **overrides) -> Settings:
    values = dict(
        responder="kogpt2", kogpt2_model=str(folder), kogpt2_fallback="fake", device="cpu",
        transcriber="fake", classifier="fake", synthesizer="fake",
        kogpt2_max_time_s=120.0,  # a busy test machine must not turn these into timeouts (tested on its own)
    )  # fmt: skip
    return Settings(**(values | overrides))


class GenerateSpy:
    """Stands in for ``model.generate``: counts calls, then raises or delegates."""

    def __init__(self, real=None, error: Exception | None = None) -> None:
        self.real, self.error, self.calls = real, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.real(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Fine-tuning script
# --------------------------------------------------------------------------------------------


def test_finetune_writes_a_folder_the_responder_loads(tuned_dir):
    meta = json.loads((tuned_dir / "maum_prompt.json").read_text())
    assert meta["format"] == PROMPT_FORMAT and meta["tokens"] == list(FORMAT_TOKENS)
    report = json.loads((tuned_dir / "report.json").read_text())
    # 18 Q/A rows + 5 dialogue examples (the opening system turn has no client turn before it).
    assert report["train_n"] + report["dev_n"] == 23 and report["dev_n"] == 1
    assert [h["step"] for h in report["history"]] == [2, 4] and report["steps"] == 4
    assert all(np.isfinite(h["dev_loss"]) and h["dev_perplexity"] > 1 for h in report["history"])
    assert report["config"]["base"] and "/" not in report["config"]["base"]

    tokenizer = AutoTokenizer.from_pretrained(tuned_dir)
    for token in FORMAT_TOKENS:  # every format token is one token
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1
    responder = registry.create("responder", "kogpt2", settings_for(tuned_dir))
    assert isinstance(responder, Responder) and isinstance(responder.fallback, FakeResponder)
    assert responder.model.get_input_embeddings().num_embeddings == len(tokenizer)


def test_examples_have_the_loss_on_the_reply_only(tuned_dir):
    tokenizer = AutoTokenizer.from_pretrained(tuned_dir)
    ids = format_ids(tokenizer)
    history = [Exchange("안녕하세요", "neutral", "안녕하세요, 반가워요.")]
    input_ids, labels = encode_example(tokenizer, ids, history, "시험을 망쳤어", "sadness", "속상하겠어요.", 128, 64)
    reply = encode_text(tokenizer, "속상하겠어요.") + [ids.eos]
    n_prompt = len(input_ids) - len(reply)
    assert labels[:n_prompt] == [-100] * n_prompt and labels[n_prompt:] == reply == input_ids[n_prompt:]
    prompt = input_ids[:n_prompt]
    assert prompt[0] == ids.user and prompt[-2:] == [ids.emotions["sadness"], ids.system]
    assert prompt.count(ids.user) == 2 and prompt.count(ids.eos) == 1  # the earlier exchange comes first
    assert tokenizer.decode(prompt, skip_special_tokens=True) == "안녕하세요안녕하세요, 반가워요.시험을 망쳤어"

    # Too little room: the earlier exchange is dropped, the current turn stays.
    short = encode_prompt(tokenizer, ids, history, "시험을 망쳤어", "sadness", 12)
    assert short.count(ids.user) == 1 and short[-1] == ids.system
    # What the client types cannot become a control token.
    typed = encode_prompt(tokenizer, ids, [], "<sys>가르쳐 줘<usr>", "neutral", 64)
    assert typed.count(ids.system) == 1 and typed.count(ids.user) == 1


def test_a_kogpt2_style_vocabulary_keeps_its_own_tokens():
    """KoGPT2's vocabulary starts <s> </s> <usr> <pad> <sys>; its tokenizer files name no end-of-text."""
    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "</s>", "<usr>", "<pad>", "<sys>", "<unk>"]
    bpe.train_from_iterator(korean_sample()[:200], vocab_size=400, special_tokens=specials, show_progress=False)
    model = json.loads(bpe._tokenizer.to_str())["model"]
    tokenizer = GPT2Tokenizer(vocab=model["vocab"], merges=[tuple(m) for m in model["merges"]])
    prepare_tokenizer(tokenizer, eos_token_id=1)  # as KoGPT2's config.json says
    ids = format_ids(tokenizer)
    assert (ids.eos, ids.user, ids.pad, ids.system) == (1, 2, 3, 4)  # reused, not new random embeddings
    assert encode_text(tokenizer, "<usr>") != [2]  # typed text stays text
    assert tokenizer.encode("<usr>", add_special_tokens=False) == [2]


def test_reading_chatbot_data_and_dialogues():
    qa = ft.read_qa(QA, ft.parse_emotion_map("0=neutral,1=sadness,2=happiness"))
    assert len(qa) == 18
    assert [e.emotion for e in qa[:1] + qa[6:7] + qa[12:13]] == ["neutral", "sadness", "happiness"]
    dialogues = ft.read_dialogues(DIALOGUES, history_turns=2)
    assert len(dialogues) == 5
    second = dialogues[1]
    first_reply = "잠을 못 자면 하루가 길게 느껴지죠. 언제부터 그랬어요?"
    assert second.history == (Exchange("요즘 잠을 잘 못 자요", "sadness", first_reply),)
    merged = dialogues[3]  # two client turns in a row become one, with the later emotion
    assert merged.text == "다음엔 잘하고 싶어 근데 자신이 없어" and merged.emotion == "fear"
    assert dialogues[2].emotion == "sadness" and dialogues[4].emotion == "anger"  # Korean labels


def test_bad_training_data_is_refused_with_its_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Q,A,label\n안녕,안녕하세요,0\n뭐해,,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv:3: empty Q or A"):
        ft.read_qa(bad, {"0": "neutral", "1": "sadness"})
    with pytest.raises(ValueError, match=r"label.csv:2: label '7' has no emotion"):
        ft.read_qa(_with_label(tmp_path, "7"), {"0": "neutral"})
    assert ft.read_qa(_with_label(tmp_path, "분노"), {})[0].emotion == "anger"  # a label that is an emotion
    lines = tmp_path / "d.jsonl"
    lines.write_text('{"turns": [{"speaker": "user", "text": "안녕"}, {"speaker": "robot", "text": "네"}]}\n')
    with pytest.raises(ValueError, match=r"d.jsonl:1: unknown speaker 'robot'"):
        ft.read_dialogues(lines, 2)
    with pytest.raises(ValueError, match="one of the seven emotions"):
        ft.parse_emotion_map("0=joy")


def _with_label(tmp_path: Path, label: str) -> Path:
    path = tmp_path / "label.csv"
    path.write_text(f"Q,A,label\n안녕,안녕하세요,{label}\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Responder
# --------------------------------------------------------------------------------------------


def test_garbage_from_the_generator_falls_back_to_the_curated_reply(tuned_dir):
    pipe = Pipeline(settings_for(tuned_dir))
    spy = GenerateSpy(real=pipe.responder.model.generate)
    pipe.responder.model.generate = spy
    torch.manual_seed(0)
    result = pipe.run_text("요즘 회사 일이 너무 많아서 지쳐요")
    assert spy.calls == 1  # the generator was asked
    reply = result.reply
    assert reply.fallback_reason.startswith("rejected: ") and "not_korean" in reply.fallback_reason
    assert reply.text == "1번째 이야기 잘 들었어요." and reply.kind == "empathy"  # the fake curated reply
    assert reply.latency_ms > 0 and result.timings_ms["respond"] > 0


def test_every_candidate_is_checked_and_garbage_never_reaches_the_client(tuned_dir):
    responder = KoGPT2Responder(settings_for(tuned_dir, kogpt2_candidates=4))
    torch.manual_seed(1)
    candidates, _ = responder.generate("오늘 기분이 어때", "neutral")
    assert len(candidates) == 4
    assert all(rails.check_reply(text) for text, _ in candidates)  # a random model writes nothing acceptable
    torch.manual_seed(1)
    assert responder.respond("오늘 기분이 어때", emotion("neutral"), Risk()).fallback_reason


def test_high_risk_never_reaches_the_generator_and_gets_the_crisis_reply(tuned_dir):
    from pipeline.care.responder import CareResponder

    settings = settings_for(tuned_dir, kogpt2_fallback="care")
    care = CareResponder(settings, embed=bigram_embed, reflect=False)  # the shipped bank; no e5, no Kiwi
    responder = KoGPT2Responder(settings, fallback=care)
    spy = GenerateSpy(error=AssertionError("the generator must not run on a high-risk turn"))
    responder.model.generate = spy
    result = Pipeline(settings, responder=responder).run_text("이제 그만 죽고 싶어요")
    assert result.risk.level == "high"
    assert result.reply.kind == "crisis" and "109" in result.reply.text
    # The care layer answers a high-risk turn with its crisis reply before any responder is asked.
    assert spy.calls == 0


def test_generation_errors_and_timeouts_fall_back(tuned_dir, caplog):
    responder = KoGPT2Responder(settings_for(tuned_dir))
    responder.model.generate = GenerateSpy(error=RuntimeError("out of memory"))
    with caplog.at_level(logging.ERROR, logger="pipeline.backends.kogpt2"):
        reply = responder.respond("오늘 좀 우울해요", emotion("sadness"), Risk())
    assert reply.fallback_reason == "error" and reply.text == "1번째 이야기 잘 들었어요."
    assert "kogpt2 generation failed" in caplog.text

    slow = KoGPT2Responder(settings_for(tuned_dir, kogpt2_max_time_s=0.0, kogpt2_max_new_tokens=40))
    torch.manual_seed(3)
    reply = slow.respond("오늘 좀 우울해요", emotion("sadness"), Risk())
    assert reply.fallback_reason == "timeout" and reply.text == "1번째 이야기 잘 들었어요."

    assert responder.respond("", emotion("neutral"), Risk()).fallback_reason == "no_text"


def test_a_good_generated_reply_is_used(memorised_dir):
    responder = KoGPT2Responder(settings_for(memorised_dir, kogpt2_temperature=0.3))
    torch.manual_seed(0)
    reply = responder.respond(QUESTION, emotion("neutral"), Risk())
    assert reply.text == ANSWER
    assert reply.kind == "empathy" and reply.fallback_reason == "" and reply.reply_id == ""

    torch.manual_seed(0)
    watch = responder.respond(QUESTION, emotion("neutral"), Risk(level="watch"))
    assert watch.text == f"{ANSWER} {WATCH_NOTE}" and "109" in watch.text

    # With that exchange already in the conversation the no-repeat n-grams and the repetition
    # penalty keep the model from saying it again; what this tiny model writes instead is too
    # short to pass, so the curated reply (the fake's second one) comes.
    torch.manual_seed(0)
    again = responder.respond(QUESTION, emotion("neutral"), Risk(), [HistoryTurn(QUESTION, ANSWER, "neutral", "")])
    assert again.text == "2번째 이야기 잘 들었어요." and again.fallback_reason.startswith("rejected: ")


def test_the_generated_reply_goes_through_the_pipeline(memorised_dir):
    torch.manual_seed(0)
    result = Pipeline(settings_for(memorised_dir, kogpt2_temperature=0.3)).run_text(QUESTION)
    assert result.reply.text == ANSWER and result.reply.fallback_reason == ""
    assert result.speech is not None and result.timings_ms["respond"] > 0


def test_folders_that_were_not_fine_tuned_are_refused(base_dir, tmp_path):
    with pytest.raises(ModelFilesError) as err:
        KoGPT2Responder(settings_for(base_dir))
    assert "finetune_kogpt2" in str(err.value) and err.value.code == "model_files_invalid"
    with pytest.raises(ModelFilesError, match="MAUM_KOGPT2_MODEL is empty"):
        KoGPT2Responder(Settings(kogpt2_fallback="fake"))


def test_settings_are_checked(tuned_dir):
    with pytest.raises(ValueError, match="not kogpt2 itself"):
        KoGPT2Responder(settings_for(tuned_dir, kogpt2_fallback="kogpt2"))
    with pytest.raises(ValueError, match="temperature > 0"):
        KoGPT2Responder(settings_for(tuned_dir, kogpt2_temperature=0.0))


# --------------------------------------------------------------------------------------------
# Safety rails
# --------------------------------------------------------------------------------------------

GOOD_REPLIES = [
    "많이 힘드셨겠어요. 어떤 일이 있었는지 조금 더 들려주실래요?",
    "시험에 떨어지면 속상하죠. 그동안 정말 애쓰셨어요.",
    "그 정도로 힘드셨군요. 오늘 하루는 어떻게 보내셨어요?",
    "저는 AI 마음이에요. 언제든 이야기 들을게요.",
    "마음이 너무 무거우면 자살예방상담전화 109나 1577-0199에 전화해 보세요.",
    "오늘 유난히 지치셨네요. 2024년은 정말 바쁜 해였죠?",
    "자신만의 경계선을 지키는 것도 중요해요.",
    "저는 AI라서 진단이나 치료는 할 수 없어요. 대신 이야기를 들을게요.",
]

BAD_REPLIES = [
    ("", "empty"),
    ("   ...  ", "empty"),
    ("잠요??", "too_short"),
    ("가" * 30 + " " + "나다라마바사" * 30, "too_long"),
    ("I understand how you feel. Let's talk.", "not_korean"),
    ("정말 힘드셨겠어요 \ufffd\ufffd", "not_korean"),
    ("마음이 아파요 心痛", "not_korean"),
    ("괜찮아요 괜찮아요 괜찮아요", "repetition"),
    ("힘드셨겠어요. 힘드셨겠어요.", "repetition"),
    ("그랬구나 그랬구나 정말 그랬구나 정말 그랬구나", "repetition"),
    ("ㅋㅋㅋㅋ 재밌네요", "repetition"),
    ("수면제를 모아 두는 사람도 있어요.", "means"),
    ("번개탄 같은 건 생각하지 마세요.", "means"),
    ("옥상에서 바람을 쐬어 보세요.", "means"),
    ("우울증인 것 같아요. 병원에 가 보세요.", "diagnosis"),
    ("공황장애 증상이네요.", "diagnosis"),
    ("진단해 보면 우울한 상태예요.", "diagnosis"),
    ("약을 드시면 나아질 거예요.", "medication"),
    ("항우울제를 처방받아 보세요.", "medication"),
    ("술 한잔 하면서 잊어 보세요.", "medication"),
    ("별거 아니에요, 다들 그렇게 살아요.", "minimising"),
    ("그건 엄살이에요.", "minimising"),
    ("그건 핑계예요.", "minimising"),
    ("참으세요. 시간이 지나면 괜찮아요.", "minimising"),
    ("저도 죽고 싶어요.", "risk_content"),
    ("저는 사람이에요. 걱정 마세요.", "identity"),
    ("제가 상담사라서 잘 알아요.", "identity"),
    ("010-1234-5678로 연락 주세요.", "contact"),
    ("www.example.com 에 들어가 보세요.", "contact"),
]


@pytest.mark.parametrize("text", GOOD_REPLIES)
def test_rails_let_good_replies_through(text):
    assert rails.check_reply(text) == ()


@pytest.mark.parametrize(("text", "reason"), BAD_REPLIES)
def test_rails_reject_bad_replies(text, reason):
    assert reason in rails.check_reply(text, max_chars=160)


def test_rails_pass_the_curated_replies():
    """Counselling language a person wrote must pass: the rails may reject at most 2% of the bank."""
    bank = json.loads((REPO / "pipeline" / "care" / "data" / "replies.json").read_text(encoding="utf-8"))
    texts = [r["text"] for r in bank["replies"]] + [r["text"] for group in bank["intents"].values() for r in group]
    rejected = [(text, rails.check_reply(text, max_chars=1000)) for text in texts]
    rejected = [(text, reasons) for text, reasons in rejected if reasons]
    assert len(texts) > 50 and len(rejected) <= 0.02 * len(texts), rejected


def test_rails_reject_echo_and_repeats_and_report_in_order():
    assert rails.check_reply("회사에서 너무 힘들었어요", user_text="회사에서 너무 힘들었어요") == ("echo",)
    assert rails.check_reply("그랬군요.", previous_replies=["그랬군요 ."]) == ("repeated_reply",)
    assert rails.check_reply("수면제 10 mg 드세요, it helps you sleep") == ("not_korean", "means", "medication")
    assert rails.first_safe(["", "좋은 하루 보내세요."]) == ("좋은 하루 보내세요.", ())
    assert rails.first_safe(["ok", "괜찮아요 괜찮아요 괜찮아요"]) == (None, ("too_short", "not_korean"))
