"""The real chat page in Debian's Chromium, against gunicorn with the default models.

The microphone is a real Korean recording (NIKL, see tests/samples.py). The test speaks with the
keyboard only, checks what was heard, the reply and its audio (sentence by sentence: the first
sentence plays before the whole reply has been synthesised), that focus stayed on the record
button, that the turn is in the database, and that the page loaded nothing from outside the server.
The screenshot lands in tests/artifacts/chat-phone.png.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from pipeline.metrics import cer
from tests.browser import live_server, open_page, save_screenshot
from tests.samples import real_sentences

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.enable_socket]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat-server")
    # A fresh sentence cache: every sentence of the reply is synthesised while the page waits.
    with live_server(folder, MAUM_TTS_CACHE_DIR=str(folder / "tts")) as server:
        yield server


def test_speaking_into_the_page_gets_a_heard_transcript_a_reply_and_its_audio(server):
    wav, expected = real_sentences()[0]
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server, fake_audio=wav)
        page.goto(server.url)

        chat = page.locator("#chat")
        expect(chat).to_have_attribute("data-state", "idle")
        # This Chromium has no Korean speechSynthesis voice: the page says so and uses the server's audio.
        expect(page.locator("#voice-device")).to_be_disabled()
        expect(page.locator("#voice-note")).to_contain_text("마음 목소리로")

        # Keyboard only: the record button keeps the focus through the whole turn, and changes its
        # name (not also aria-pressed) to say what pressing it does now.
        record = page.locator("#record")
        record.focus()
        page.keyboard.press("Enter")
        expect(chat).to_have_attribute("data-state", "listening")
        expect(record).to_have_accessible_name("멈추고 보내기")
        assert record.get_attribute("aria-pressed") is None
        expect(page.locator("#status")).to_contain_text("듣는 중")
        page.wait_for_timeout(5500)  # the recording is 5 s long
        peak = int(page.locator("#level").get_attribute("data-peak") or 0)
        page.keyboard.press("Enter")
        # At once: a placeholder for the client's words with a thinking indicator, until the transcript comes.
        expect(page.locator(".bubble.user.pending .dots")).to_be_visible()
        expect(record).to_have_accessible_name("말하기")

        user = page.locator(".bubble.user:not(.pending)").first
        expect(user).to_be_visible(timeout=60_000)
        heard = user.locator(".text").inner_text()
        assert cer([expected], [heard]) <= 0.3, heard
        expect(user.locator(".emotion")).to_have_count(0)  # not shown to the client by default
        maum = page.locator(".bubble.maum").nth(1)
        expect(maum).to_be_visible()
        expect(maum.locator(".replay")).to_be_visible(timeout=30_000)
        assert maum.get_attribute("data-voice") == "server"
        expect(maum).to_have_attribute("data-first-clip-at", re.compile(r"^\d+$"), timeout=30_000)
        first_heard_s = int(maum.get_attribute("data-first-clip-at")) / 1000.0
        expect(chat).to_have_attribute("data-state", "idle", timeout=60_000)  # spoke every sentence, then idle
        assert page.evaluate("() => document.activeElement.id") == "record", "focus stayed on the button"
        reply_text = maum.locator(".text").inner_text()
        save_screenshot(page, "chat-phone.png")

        page.fill("#text", "오늘은 좀 지쳤어요")
        page.press("#text", "Enter")
        expect(page.locator(".bubble.user")).to_have_count(2, timeout=30_000)
        expect(page.locator(".bubble.user").nth(1).locator(".text")).to_have_text("오늘은 좀 지쳤어요")
        expect(page.locator(".bubble.maum:not(.thinking)")).to_have_count(3, timeout=30_000)
        fonts_ready = page.evaluate("document.fonts.check('16px \"Noto Sans KR\"', '마음')")
        watch.assert_clean()
        browser.close()

    assert peak > 20, "the level meter moved while the recording played"
    assert fonts_ready, "the Korean font is served by Maum itself"
    stored = wait_for_reply_files(server)
    assert [r[0] for r in stored] == ["audio", "text"]
    assert stored[0][1] == heard and stored[0][2] == reply_text
    assert stored[0][3].endswith(".webm"), "the browser's own recording is kept"
    assert all((server.instance_path / r[4]).is_file() for r in stored)
    clips = json.loads(stored[0][5])
    assert len(clips) >= 2, "a reply of several sentences"
    whole_reply_made_s = (server.instance_path / stored[0][4]).stat().st_mtime
    assert first_heard_s < whole_reply_made_s, "the first sentence was heard before the whole reply was synthesised"


def wait_for_reply_files(server, timeout_s: float = 120.0) -> list[tuple]:
    """The turns, once the background threads have attached every complete reply file."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = server.rows(
            "SELECT input_kind, user_text, reply_text, user_audio_path, reply_audio_path, reply_clips FROM turns"
            " ORDER BY created_at"
        )
        if all(r[4] for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)
