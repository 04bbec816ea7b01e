"""Generated replies from a fine-tuned KoGPT2 (``kogpt2`` responder), behind the care engine's rails.

The model folder is what ``training/finetune_kogpt2.py`` writes: a causal language model and its
tokenizer (``save_pretrained``), plus ``maum_prompt.json`` naming the prompt format below. It is
loaded with ``from_pretrained(path)``; nothing is downloaded.

Prompt format ``maum-dialogue-v1`` (training and serving build it with the same functions here):
every exchange is ``<usr>`` + the client's words + an emotion tag + ``<sys>`` + the reply + end of
text; the current turn stops after ``<sys>`` and the model writes the reply::

    <usr>요즘 잠을 못 자요<sadness><sys>잠을 못 자면 하루가 길게 느껴지죠. 언제부터 그랬어요?</s>
    <usr>한 달쯤 됐어요<sadness><sys>

The emotion tags are ``<fear> <surprise> <anger> <sadness> <neutral> <happiness> <disgust>`` (the
classifier's label for each client turn). ``<usr>``, ``<sys>`` and the tags are single special
tokens (KoGPT2 already has ``<usr>``/``<sys>``; the others are added by the fine-tuning script).
The client's words are encoded with special-token parsing off, so typing ``<sys>`` cannot steer
the model. Up to ``kogpt2_history_turns`` earlier exchanges come first, oldest first, cut from the
oldest end to fit the model's context.

A turn is answered like this:

1. high risk, or nothing was said → the curated responder (``kogpt2_fallback``, ``care`` by
   default) answers: the crisis reply never comes from a generator;
2. otherwise ``kogpt2_candidates`` replies are sampled in one batch (top-p, temperature,
   repetition penalty, no-repeat n-grams; KoGPT2 loops forever under greedy decoding), within
   ``kogpt2_max_new_tokens`` and a wall-time budget (``MaxTimeCriteria``);
3. the first candidate that finished (a stop token, or cut back to its last complete sentence when
   the token budget ran out) and passes ``generation_safety.check_reply`` is the reply;
4. on any error, timeout, or when no candidate passes, the curated responder answers and the
   reply's ``fallback_reason`` says why (``error``, ``timeout``, ``rejected: <reasons of the first
   candidate>`` such as ``rejected: unfinished, not_korean``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, MaxTimeCriteria, StoppingCriteriaList

from pipeline.care.generation_safety import check_reply
from pipeline.errors import ModelFilesError
from pipeline.model_files import model_folder
from pipeline.settings import Settings, resolve_device
from pipeline.text.e5 import E5Embedder
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Reply, Risk

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

log = logging.getLogger(__name__)

PROMPT_FORMAT = "maum-dialogue-v1"
#: Written next to the model by the fine-tuning script; names the prompt format.
FORMAT_FILE = "maum_prompt.json"
USER_TOKEN = "<usr>"
SYSTEM_TOKEN = "<sys>"
EMOTION_TOKENS: dict[str, str] = {label: f"<{label}>" for label in EMOTION_LABELS}
FORMAT_TOKENS: tuple[str, ...] = (USER_TOKEN, SYSTEM_TOKEN, *EMOTION_TOKENS.values())
#: End-of-text tokens tried, in order, when a tokenizer does not name one (KoGPT2 uses ``</s>``).
EOS_CANDIDATES = ("</s>", "<|endoftext|>", "<eos>")

#: Added to a generated reply when the risk level is ``watch``.
WATCH_NOTE = "마음이 더 무거워지면 언제든 자살예방상담전화 109에서 사람과 바로 이야기 나눌 수 있어요."

_SENTENCE_END = re.compile(r"[.!?。]")


@dataclass(frozen=True)
class Exchange:
    """One client turn and Maum's reply, as the prompt format writes them."""

    user: str
    emotion: str
    reply: str = ""


@dataclass(frozen=True)
class FormatIds:
    """Token ids of the prompt format in one tokenizer."""

    user: int
    system: int
    eos: int
    pad: int
    emotions: dict[str, int]

    @property
    def stop(self) -> list[int]:
        """Tokens that end a reply: end of text, or the model starting the next turn."""
        return [self.eos, self.user, self.system]


def prepare_tokenizer(tokenizer: Any, eos_token_id: int | None = None) -> None:
    """Make ``tokenizer`` speak the prompt format: special tokens, end-of-text and padding.

    Args:
        tokenizer: a causal LM's tokenizer, changed in place.
        eos_token_id: the model's own end-of-text id (``config.eos_token_id``); KoGPT2's is
            ``</s>``, which its tokenizer files do not name.

    Tokens already in the vocabulary (KoGPT2's ``<usr>``, ``<sys>``, ``</s>``, ``<pad>``) are
    reused; missing ones are added, so the caller must resize the model's embeddings to
    ``len(tokenizer)``.
    """
    vocab = tokenizer.get_vocab()
    eos = tokenizer.eos_token
    if eos_token_id is not None and 0 <= eos_token_id < len(tokenizer):
        eos = tokenizer.convert_ids_to_tokens(eos_token_id)
    if eos is None:
        eos = next((t for t in EOS_CANDIDATES if t in vocab), EOS_CANDIDATES[0])
    pad = tokenizer.pad_token or ("<pad>" if "<pad>" in vocab else eos)
    tokenizer.add_special_tokens({"eos_token": eos, "pad_token": pad, "additional_special_tokens": list(FORMAT_TOKENS)})


def format_ids(tokenizer: Any, where: str = "tokenizer") -> FormatIds:
    """The ids of the format's tokens, each checked to be a single known token.

    Raises:
        ModelFilesError: a token is missing (the folder was not prepared by ``prepare_tokenizer``).
    """
    vocab = tokenizer.get_vocab()
    needed = [*FORMAT_TOKENS, tokenizer.eos_token, tokenizer.pad_token]
    missing = [t for t in needed if t is None or t not in vocab]
    if missing:
        raise ModelFilesError(
            detail=f"{where}: tokens {missing} are missing; fine-tune the model with training/finetune_kogpt2.py"
        )
    return FormatIds(
        user=vocab[USER_TOKEN],
        system=vocab[SYSTEM_TOKEN],
        eos=vocab[tokenizer.eos_token],
        pad=vocab[tokenizer.pad_token],
        emotions={label: vocab[token] for label, token in EMOTION_TOKENS.items()},
    )


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of plain text: no special tokens added, and none parsed out of the text."""
    return tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)


def encode_prompt(
    tokenizer: Any, ids: FormatIds, history: Sequence[Exchange], text: str, emotion: str, max_tokens: int
) -> list[int]:
    """Token ids of the prompt for the reply to ``text`` (see the module docstring), at most ``max_tokens``.

    Earlier exchanges are dropped from the oldest end when they do not fit; the current turn keeps
    the end of a very long message.
    """
    head = [ids.user]
    tail = [ids.emotions.get(emotion, ids.emotions["neutral"]), ids.system]
    room = max(1, max_tokens - len(head) - len(tail))
    current = head + encode_text(tokenizer, text)[-room:] + tail
    prompt: list[int] = []
    for exchange in reversed(history):
        block = [
            ids.user,
            *encode_text(tokenizer, exchange.user),
            ids.emotions.get(exchange.emotion, ids.emotions["neutral"]),
            ids.system,
            *encode_text(tokenizer, exchange.reply),
            ids.eos,
        ]
        if len(block) + len(prompt) + len(current) > max_tokens:
            break
        prompt = block + prompt
    return prompt + current


def encode_example(
    tokenizer: Any,
    ids: FormatIds,
    history: Sequence[Exchange],
    text: str,
    emotion: str,
    reply: str,
    max_tokens: int,
    max_reply_tokens: int,
) -> tuple[list[int], list[int]]:
    """A training example: (input ids, labels) with labels ``-100`` on the prompt (loss on the reply only).

    The reply (cut to ``max_reply_tokens``) and its end-of-text token are always kept whole; the
    prompt gets the remaining room.
    """
    answer = [*encode_text(tokenizer, reply)[:max_reply_tokens], ids.eos]
    prompt = encode_prompt(tokenizer, ids, history, text, emotion, max(4, max_tokens - len(answer)))
    return prompt + answer, [-100] * len(prompt) + answer


def read_format(folder: Path) -> dict:
    """The folder's ``maum_prompt.json``, checked to name this module's prompt format.

    Raises:
        ModelFilesError: the file is missing (a base checkpoint that was never fine-tuned) or names
            another format.
    """
    path = folder / FORMAT_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFilesError(
            detail=f"{folder}: no readable {FORMAT_FILE}; a base checkpoint must first be fine-tuned with "
            "training/finetune_kogpt2.py (it writes the prompt format the responder uses)"
        ) from exc
    if meta.get("format") != PROMPT_FORMAT:
        raise ModelFilesError(detail=f"{path}: prompt format {meta.get('format')!r}, expected {PROMPT_FORMAT!r}")
    return meta


def exchanges(history: Sequence[HistoryTurn]) -> list[Exchange]:
    """The conversation so far in the prompt format's terms."""
    return [Exchange(turn.user_text, turn.emotion, turn.reply_text) for turn in history]


class KoGPT2Responder:
    """``Responder`` that generates with a fine-tuned causal LM and falls back to curated replies.

    Args:
        settings: ``kogpt2_*`` settings and ``device``.
        fallback: a ready responder for high-risk turns and failed generations; default: the
            ``kogpt2_fallback`` backend from the registry (``care``).
        embedder: the building ``Pipeline``'s e5 embedder, handed on to that fallback.
        kiwi: the building ``Pipeline``'s Kiwi, handed on to that fallback.

    Raises:
        ModelFilesError: the folder is missing, was not fine-tuned for the prompt format, or lacks
            its tokens.
        ValueError: a sampling setting is out of range.
    """

    name = "kogpt2"

    def __init__(
        self, settings: Settings, fallback: Any = None, *, embedder: E5Embedder | None = None, kiwi: Kiwi | None = None
    ) -> None:
        folder = model_folder(settings.kogpt2_model, "MAUM_KOGPT2_MODEL")
        self.meta = read_format(folder)
        self.settings = settings
        if settings.kogpt2_temperature <= 0 or not 0 < settings.kogpt2_top_p <= 1 or settings.kogpt2_candidates < 1:
            raise ValueError("kogpt2 needs temperature > 0, 0 < top_p <= 1 and at least one candidate")
        if fallback is None:
            if settings.kogpt2_fallback == self.name:
                raise ValueError("MAUM_KOGPT2_FALLBACK must name a curated responder, not kogpt2 itself")
            from pipeline import registry

            fallback = registry.create(
                "responder",
                settings.kogpt2_fallback,
                settings,
                embedder=None if embedder is None else lambda: embedder,
                kiwi=None if kiwi is None else lambda: kiwi,
            )
        self.fallback = fallback
        self.device = torch.device(resolve_device(settings.device))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure here means the files are unusable
            raise ModelFilesError(detail=f"cannot load KoGPT2 model from {folder}: {exc}") from exc
        self.ids = format_ids(self.tokenizer, str(folder))
        if model.get_input_embeddings().num_embeddings < len(self.tokenizer):
            raise ModelFilesError(detail=f"{folder}: the tokenizer has more tokens than the model's embeddings")
        self.model = model.to(self.device).eval()
        self.context_tokens = min(int(self.meta.get("max_tokens", 256)), getattr(model.config, "n_positions", 1024))
        self.max_prompt_tokens = max(8, self.context_tokens - settings.kogpt2_max_new_tokens)
        self.generation = GenerationConfig(
            do_sample=True,
            top_p=settings.kogpt2_top_p,
            temperature=settings.kogpt2_temperature,
            repetition_penalty=settings.kogpt2_repetition_penalty,
            no_repeat_ngram_size=settings.kogpt2_no_repeat_ngram,
            max_new_tokens=settings.kogpt2_max_new_tokens,
            num_return_sequences=settings.kogpt2_candidates,
            eos_token_id=self.ids.stop,
            pad_token_id=self.ids.pad,
        )
        self._lock = threading.Lock()  # one generation at a time; a worker's CPU threads serve one request
        self._warm_up()

    def _warm_up(self) -> None:
        """Generate two tokens once, so that the first client turn does not pay torch's start-up costs."""
        ids = encode_prompt(self.tokenizer, self.ids, [], "안녕하세요", "neutral", 16)
        prompt = torch.tensor([ids], device=self.device)
        with self._lock, torch.inference_mode():
            self.model.generate(
                input_ids=prompt,
                attention_mask=torch.ones_like(prompt),
                generation_config=GenerationConfig(max_new_tokens=2, do_sample=False, pad_token_id=self.ids.pad),
            )

    def respond(self, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn] = ()) -> Reply:
        """A generated reply that passes the safety rails, or the curated one with the reason why not.

        High risk, empty text, a budget that ran out or a rejected candidate all fall back to the
        curated responder; ``Reply.fallback_reason`` says which.
        """
        start = time.perf_counter()
        if risk.level == "high":
            return self._fall_back("high_risk", start, text, emotion, risk, history)
        if not text.strip():
            return self._fall_back("no_text", start, text, emotion, risk, history)
        try:
            candidates, timed_out = self.generate(text, emotion.label, history)
        except Exception:  # noqa: BLE001 - the client must get a reply whatever the model does
            log.exception("kogpt2 generation failed")
            return self._fall_back("error", start, text, emotion, risk, history)
        if timed_out and not any(done for _, done in candidates):
            return self._fall_back("timeout", start, text, emotion, risk, history)
        previous = [turn.reply_text for turn in history]
        first_reasons: tuple[str, ...] = ()
        for candidate, done in candidates:
            reasons = ("unfinished",) if not done else ()
            reasons += check_reply(
                candidate, max_chars=self.settings.kogpt2_max_reply_chars, user_text=text, previous_replies=previous
            )
            if not reasons:
                reply_text = f"{candidate} {WATCH_NOTE}" if risk.level == "watch" else candidate
                return Reply(text=reply_text, kind="empathy", latency_ms=(time.perf_counter() - start) * 1000.0)
            first_reasons = first_reasons or reasons
        return self._fall_back("rejected: " + ", ".join(first_reasons), start, text, emotion, risk, history)

    def generate(
        self, text: str, emotion: str, history: Sequence[HistoryTurn] = ()
    ) -> tuple[list[tuple[str, bool]], bool]:
        """Sample candidate replies.

        Returns:
            ``[(reply text, finished)]`` per candidate (``finished``: it ended with a stop token, or
            was cut back to its last complete sentence), and whether the time budget ran out.
        """
        turns = exchanges(history[-self.settings.kogpt2_history_turns :] if self.settings.kogpt2_history_turns else [])
        prompt = encode_prompt(self.tokenizer, self.ids, turns, text, emotion, self.max_prompt_tokens)
        input_ids = torch.tensor([prompt], device=self.device)
        budget = StoppingCriteriaList([MaxTimeCriteria(max_time=self.settings.kogpt2_max_time_s)])
        with self._lock, torch.inference_mode():
            start = time.perf_counter()
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=self.generation,
                stopping_criteria=budget,
            )
            elapsed = time.perf_counter() - start
        timed_out = elapsed >= self.settings.kogpt2_max_time_s
        candidates = []
        for row in output[:, len(prompt) :].tolist():
            stop_at = next((i for i, token in enumerate(row) if token in self.ids.stop), None)
            reply = self._decode(row[:stop_at] if stop_at is not None else row)
            finished = stop_at is not None
            if not finished and not timed_out:
                reply, finished = _last_sentences(reply)  # ran out of tokens: keep what was complete
            candidates.append((reply, finished))
        return candidates, timed_out

    def _decode(self, token_ids: list[int]) -> str:
        return " ".join(self.tokenizer.decode(token_ids, skip_special_tokens=True).split())

    def _fall_back(
        self, reason: str, start: float, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn]
    ) -> Reply:
        if reason not in {"high_risk", "no_text"}:
            log.info("kogpt2 fell back to the curated reply: %s", reason)
        reply = self.fallback.respond(text, emotion, risk, history)
        return replace(reply, fallback_reason=reason, latency_ms=(time.perf_counter() - start) * 1000.0)


def _last_sentences(text: str) -> tuple[str, bool]:
    """``text`` cut after its last sentence end, and whether there was one."""
    ends = list(_SENTENCE_END.finditer(text))
    if not ends:
        return text, False
    return text[: ends[-1].end()].strip(), True
