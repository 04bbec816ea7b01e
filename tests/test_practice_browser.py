"""The real practice page in Debian's Chromium, against gunicorn with the default models.

The microphone plays a real NIKL recording of 기차도 전기도 없었다 (see tests/samples.py); the test
picks that sentence, reads it through the fake microphone, and checks the coloured syllables, the
scores, the detail of a syllable, and the history chart. Screenshot: tests/artifacts/practice-phone.png.
A hiss with no speech must read "판단하기 어려워요" (too unclear to judge) in words, never "wrong".
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import live_server, open_page, save_screenshot
from tests.samples import real_sentences

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.enable_socket]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("practice-server")) as server:
        yield server


def test_reading_a_sentence_into_the_microphone_shows_coloured_feedback(server):
    wav, text = real_sentences()[0]
    assert text == "기차도 전기도 없었다"
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server, fake_audio=wav)
        page.goto(f"{server.url}/practice")

        panel = page.locator("#practice")
        expect(panel).to_have_attribute("data-state", "idle")
        page.select_option("#sentence-select", label=text + ".")
        expect(page.locator("#target-text")).to_have_text(text + ".")
        expect(page.locator("#target-pron")).to_have_text("[기차도 전기도 업썯따]")
        expect(page.locator("#target-rules")).to_contain_text("'없었다'는 [업썯따]로 소리 나요")
        expect(page.locator("#target-rules")).to_contain_text("(연음, 제14항)")
        expect(page.locator("#history-empty")).to_be_visible()

        page.click("#record")
        expect(panel).to_have_attribute("data-state", "listening")
        page.wait_for_timeout(5500)  # the recording is about 5 s long
        page.click("#record")

        result = page.locator("#result")
        expect(result).to_be_visible(timeout=90_000)
        expect(panel).to_have_attribute("data-state", "idle")
        syllables = page.locator("#syllables .syl")
        expect(syllables).to_have_count(9)
        ratings = [syllables.nth(i).get_attribute("data-rating") for i in range(9)]
        assert set(ratings) <= {"good", "unsure", "wrong"}
        assert ratings.count("good") >= 7, ratings
        colours = {syllables.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(9)}
        assert "rgb(226, 243, 232)" in colours  # the green of a good syllable
        overall = int(page.locator("#score-overall").inner_text())
        assert overall >= 80
        expect(page.locator("#heard-text")).to_contain_text("기차")

        syllables.nth(6).click()  # 없 → [업]
        detail = page.locator("#detail")
        expect(detail).to_be_visible()
        expect(page.locator("#detail-expected")).to_contain_text("[업]")
        expect(page.locator("#detail-explanation")).to_contain_text("'없었다'는 [업썯따]로 소리 나요")
        expect(page.locator("#history-chart")).to_have_attribute("data-count", "1")
        expect(page.locator("#history-chart circle")).to_have_count(1)
        expect(page.locator("#replay-own")).to_be_enabled()
        save_screenshot(page, "practice-phone.png")
        watch.assert_clean()
        browser.close()

    rows = server.rows("SELECT sentence_id, text, overall FROM practice_attempts")
    assert [(r[0], r[1]) for r in rows] == [("1-19", text + ".")]
    assert rows[0][2] == overall or abs(rows[0][2] - overall) < 1


def test_a_typed_sentence_with_one_different_word_marks_that_syllable(server):
    wav, _ = real_sentences()[0]  # says 기차도 전기도 없었다
    typed = "기차도 전기도 있었다"
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server, fake_audio=wav)
        page.goto(f"{server.url}/practice")
        page.select_option("#sentence-select", value="")
        expect(page.locator("#own-text")).to_be_visible()
        page.fill("#text", typed)
        page.click("#use-text")
        expect(page.locator("#target-pron")).to_have_text("[기차도 전기도 이썯따]")

        page.click("#record")
        page.wait_for_timeout(5500)
        page.click("#record")
        expect(page.locator("#result")).to_be_visible(timeout=90_000)
        syllables = page.locator("#syllables .syl")
        expect(syllables).to_have_count(9)
        ratings = [syllables.nth(i).get_attribute("data-rating") for i in range(9)]
        assert ratings[6] in {"wrong", "unsure"}, ratings  # 있 was read as 없
        assert ratings[:6].count("good") >= 5, ratings
        expect(page.locator("#detail-title")).to_contain_text("'있'")  # the first problem opens by itself
        expect(page.locator("#detail-tip")).not_to_be_empty()
        save_screenshot(page, "practice-one-word.png")
        watch.assert_clean()
        browser.close()


def test_a_recording_too_unclear_to_judge_says_so_instead_of_marking_syllables_wrong(server, tmp_path):
    # The microphone plays steady hiss, no speech: the page must not blame the learner.
    import numpy as np
    import soundfile as sf

    hiss = tmp_path / "hiss.wav"
    rng = np.random.default_rng(7)
    sf.write(hiss, (0.08 * rng.standard_normal(16000 * 5)).astype(np.float32), 16000, subtype="PCM_16")
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server, fake_audio=hiss)
        page.goto(f"{server.url}/practice")
        page.select_option("#sentence-select", value="")
        use_text = page.locator("#use-text")
        body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
        page.fill("#text", "국물이 정말 시원해요")
        assert use_text.evaluate("e => getComputedStyle(e).fontFamily") == body_font  # styled, page font
        use_text.click()

        page.click("#record")
        page.wait_for_timeout(5500)
        page.click("#record")
        expect(page.locator("#result")).to_be_visible(timeout=90_000)
        unclear = page.locator("#unclear")
        expect(unclear).to_be_visible()
        expect(unclear).to_contain_text("판단하기 어려워요")
        syllables = page.locator("#syllables .syl")
        count = syllables.count()
        ratings = [syllables.nth(i).get_attribute("data-rating") for i in range(count)]
        assert ratings and set(ratings) == {"unjudgeable"}, ratings
        assert "판단하기 어려워요" in (syllables.nth(0).get_attribute("aria-label") or "")
        expect(page.locator("#detail-title")).to_contain_text("판단하기 어려워요")  # in words, not colour
        expect(page.locator("#summary")).to_contain_text("판단하기 어려워요")
        save_screenshot(page, "practice-unclear.png")
        watch.assert_clean()
        browser.close()
