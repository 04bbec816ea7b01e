"""The synthesised-sentence cache and the voice around it: hits, LRU eviction, workers, fallback."""

from __future__ import annotations

import dataclasses
import io
import os
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio import to_wav_bytes
from pipeline.errors import BackendError
from pipeline.settings import Settings
from pipeline.speech.speech_cache import SpeechCache, cache_key
from pipeline.speech.voice import Voice, reply_sentences
from pipeline.turn import Pipeline
from pipeline.types import Speech

FAKES = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


def speech(seconds: float = 0.5, rate: int = 24000, hz: float = 300.0) -> Speech:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return Speech(wav=to_wav_bytes(samples, rate), sample_rate=rate, duration_s=seconds)


class CountingSynthesizer:
    """A cacheable voice that counts what it had to synthesise."""

    name = "counting"

    def __init__(self, delay_s: float = 0.0, rate: int = 24000):
        self.calls: list[tuple[str, str]] = []
        self.delay_s = delay_s
        self.rate = rate
        self._lock = threading.Lock()

    def voice_key(self, tone: str = "") -> str:
        return f"counting:{tone}"

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        with self._lock:
            self.calls.append((text, tone))
        time.sleep(self.delay_s)
        return speech(0.1 + 0.02 * len(text), self.rate)


class BrokenSynthesizer:
    name = "broken"

    def voice_key(self, tone: str = "") -> str:
        return "broken"

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        raise BackendError(detail="voice lost")


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_sentence_is_synthesised_once_then_served_from_the_cache(tmp_path):
    cache = SpeechCache(tmp_path, max_bytes=10_000_000)
    first, hit = cache.get_or_make("안녕하세요.", "v1", lambda: speech(0.5))
    assert not hit
    again, hit = cache.get_or_make("안녕하세요.", "v1", lambda: pytest.fail("synthesised twice"))
    assert hit and again.wav == first.wav
    assert (again.sample_rate, again.duration_s) == (24000, 0.5)


def test_the_same_text_in_another_voice_or_speed_is_another_entry(tmp_path):
    cache = SpeechCache(tmp_path, max_bytes=10_000_000)
    cache.put("고마워요.", "kokoro:jf_alpha:1.0:abc", speech(0.3))
    assert cache.get("고마워요.", "kokoro:jf_alpha:0.85:abc") is None
    assert cache.get("고마워요.", "kokoro:jf_alpha:1.0:def") is None
    assert cache.get("고마워요.", "kokoro:jf_alpha:1.0:abc") is not None
    assert cache_key("a", "b") != cache_key("a", "c") != cache_key("b", "b")


def test_the_least_recently_used_sentences_are_evicted_by_bytes(tmp_path):
    entry_bytes = len(speech(0.5).wav)
    cache = SpeechCache(tmp_path, max_bytes=int(entry_bytes * 2.5))
    cache.put("하나", "v", speech(0.5))
    cache.put("둘", "v", speech(0.5))
    old = time.time() - 100
    for i, (_, _, path) in enumerate(sorted(cache.entries(), key=lambda e: e[2].name)):
        os.utime(path, (old + i, old + i))  # both written long ago
    assert cache.get("하나", "v") is not None  # used now: the most recent
    cache.put("셋", "v", speech(0.5))
    assert cache.get("둘", "v") is None, "the least recently used went first"
    assert cache.get("하나", "v") is not None and cache.get("셋", "v") is not None
    assert cache.size_bytes() <= cache.max_bytes


def test_pinned_sentences_are_never_evicted(tmp_path):
    entry_bytes = len(speech(0.5).wav)
    cache = SpeechCache(tmp_path, max_bytes=entry_bytes)
    cache.put("자살예방상담전화 109에 전화해 주세요.", "v", speech(0.5), pinned=True)
    for word in ("하나", "둘", "셋"):
        cache.put(word, "v", speech(0.5))
    assert cache.get("자살예방상담전화 109에 전화해 주세요.", "v") is not None
    assert cache.size_bytes() <= entry_bytes


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    cache = SpeechCache(tmp_path, max_bytes=10_000_000)
    for i in range(5):
        cache.put(f"문장 {i}", "v", speech(0.2))
    assert all(p.suffix == ".wav" and not p.name.startswith(".") for p in stored_files(tmp_path))


def test_a_damaged_entry_is_synthesised_again(tmp_path):
    cache = SpeechCache(tmp_path, max_bytes=10_000_000)
    cache.put("괜찮아요.", "v", speech(0.3))
    [path] = stored_files(tmp_path)
    path.write_bytes(b"RIFF\x00garbage")
    fresh, hit = cache.get_or_make("괜찮아요.", "v", lambda: speech(0.3))
    assert not hit and sf.info(io.BytesIO(fresh.wav)).duration == pytest.approx(0.3, abs=0.01)


def test_two_workers_share_one_cache_folder(tmp_path):
    worker_a = SpeechCache(tmp_path, max_bytes=10_000_000)
    worker_b = SpeechCache(tmp_path, max_bytes=10_000_000)
    made, _ = worker_a.get_or_make("같이 써요.", "v", lambda: speech(0.4))
    seen, hit = worker_b.get_or_make("같이 써요.", "v", lambda: pytest.fail("worker b synthesised again"))
    assert hit and seen.wav == made.wav


def test_two_workers_asking_for_the_same_missing_sentence_wait_for_one_synthesis(tmp_path):
    # Two caches on one folder stand for two worker processes: only the lock file is shared.
    worker_a = SpeechCache(tmp_path, max_bytes=10_000_000)
    worker_b = SpeechCache(tmp_path, max_bytes=10_000_000)
    making, release = threading.Event(), threading.Event()
    made: list[str] = []

    def slow(who: str):
        def make():
            made.append(who)
            making.set()
            release.wait(5)
            return speech(0.4)

        return make

    results = {}

    def ask(who: str, cache: SpeechCache):
        results[who] = cache.get_or_make("함께 기다려요.", "v", slow(who))

    first = threading.Thread(target=ask, args=("a", worker_a))
    first.start()
    assert making.wait(5)
    second = threading.Thread(target=ask, args=("b", worker_b))
    second.start()
    second.join(0.3)
    assert second.is_alive(), "worker b did not wait for worker a's synthesis"
    release.set()
    first.join(5)
    second.join(5)
    assert made == ["a"]
    assert results["b"][1] is True and results["b"][0].wav == results["a"][0].wav


def test_threads_asking_for_the_same_sentence_wait_for_one_synthesis(tmp_path):
    synthesizer = CountingSynthesizer(delay_s=0.2)
    voice = Voice(synthesizer, cache=SpeechCache(tmp_path, max_bytes=10_000_000))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(voice.speak_sentence("천천히 말해요.")[0])) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(synthesizer.calls) == 1
    assert len({r.wav for r in results}) == 1


def test_a_failing_voice_hands_the_sentence_to_the_fallback(tmp_path):
    fallback = CountingSynthesizer(rate=22050)
    voice = Voice(BrokenSynthesizer(), lambda: fallback, SpeechCache(tmp_path, max_bytes=10_000_000))
    spoken, _ = voice.speak_sentence("지금 여기 있어요.", "crisis")
    assert spoken.sample_rate == 22050 and fallback.calls == [("지금 여기 있어요.", "crisis")]
    with pytest.raises(BackendError):
        Voice(BrokenSynthesizer()).speak_sentence("아무도 대신하지 않아요.")


def test_a_whole_reply_is_joined_from_its_sentences_at_one_rate(tmp_path):
    voice = Voice(CountingSynthesizer(), cache=SpeechCache(tmp_path, max_bytes=10_000_000))
    text = "많이 힘드셨겠어요. 천천히 이야기해 주세요. 저는 여기 있어요."
    assert reply_sentences(text) == ["많이 힘드셨겠어요.", "천천히 이야기해 주세요.", "저는 여기 있어요."]
    whole = voice.speak(text)
    parts = [voice.speak_sentence(s)[0] for s in reply_sentences(text)]
    assert whole.sample_rate == 24000
    assert whole.duration_s == pytest.approx(sum(p.duration_s for p in parts) + 2 * 0.3, abs=0.01)


def test_pipeline_turns_reuse_cached_sentences(tmp_path):
    settings = dataclasses.replace(FAKES, tts_cache_dir=str(tmp_path / "tts"))
    synthesizer = CountingSynthesizer()
    pipe = Pipeline(settings, synthesizer=synthesizer)
    pipe.run_text("안녕하세요")
    pipe.run_text("안녕하세요")  # same reply text again ("1번째 이야기 잘 들었어요.")
    assert len(synthesizer.calls) == 1
    assert stored_files(tmp_path / "tts")


def test_prerendered_crisis_sentences_are_pinned(tmp_path):
    settings = dataclasses.replace(FAKES, tts_cache_dir=str(tmp_path / "tts"), tts_cache_max_bytes=1)
    synthesizer = CountingSynthesizer()
    pipe = Pipeline(settings, synthesizer=synthesizer)
    counts = pipe.prerender([("지금 많이 힘드시군요. 109에 전화해 주세요.", "crisis")])
    assert counts == {"sentences": 2, "cached": 0, "rendered": 2}
    pipe.voice.speak_sentence("다른 문장이에요.")  # over the 1-byte budget: evicts all it may
    assert pipe.prerender([("지금 많이 힘드시군요. 109에 전화해 주세요.", "crisis")])["cached"] == 2
    assert len(synthesizer.calls) == 3
