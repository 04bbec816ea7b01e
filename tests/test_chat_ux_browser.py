"""The chat page as a client meets it, in Debian's Chromium at phone (390×844) and desktop (1366×900) size.

Against gunicorn with the default emotion, reply and speech models (typed turns only, so the
transcriber is the fake one). A client types four messages and then "죽고 싶어요": the crisis reply
must be fully visible, covered by no control, marked as a crisis by more than colour, and every
hotline in it a ``tel:`` link; the help button opens the hotlines; a reload shows the same
conversation; "새 대화" starts one linked to it; axe-core finds no serious or critical violation in
any of these states; and at 200 % zoom (or 200 % text size on a phone) nothing scrolls sideways and
the last reply shows.
Screenshots of every state land in tests/artifacts/chat-<size>-<state>.png.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import ARTIFACTS, PHONE, assert_accessible, live_server, open_page, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.enable_socket]

DESKTOP = {"width": 1366, "height": 900}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
#: The six lines every crisis reply names, as dialled.
HOTLINES = ("109", "15770199", "112", "119", "1388", "1366")
HOTLINE_TEXT = re.compile(r"(?<![\d-])(?:1577-0199|109|112|119|1388|1366)(?![\d-])")
EVERYDAY = ("안녕하세요", "요즘 회사 일이 너무 많아서 지쳐요", "밤에 잠도 잘 못 자요", "친구들한테 말하기도 어렵고요")
CRISIS = "죽고 싶어요"

# Where a message sits against the log, the header and the composer, and whether each of its corners
# (inset by 8 px, inside the rounded corners) is the message itself and not something drawn over it.
GEOMETRY = """(el) => {
  const box = (e) => {
    const b = e.getBoundingClientRect();
    return {top: b.top, bottom: b.bottom, left: b.left, right: b.right};
  };
  const b = el.getBoundingClientRect();
  const points = [
    [b.left + 8, b.top + 8], [b.right - 8, b.top + 8], [b.left + 8, b.bottom - 8], [b.right - 8, b.bottom - 8],
  ];
  const log = document.getElementById("log");
  return {
    el: box(el), log: box(log), header: box(document.querySelector(".site-header")),
    controls: box(document.querySelector(".controls")),
    vw: window.innerWidth, vh: window.innerHeight,
    uncovered: points.map(([x, y]) => {
      const hit = document.elementFromPoint(x, y);
      return !!hit && el.contains(hit);
    }),
    pageScrollWidth: document.documentElement.scrollWidth, pageWidth: document.documentElement.clientWidth,
    logScrollWidth: log.scrollWidth, logWidth: log.clientWidth,
  };
}"""

WATCH_ANNOUNCER = """() => {
  window.maumAnnouncements = [];
  const announcer = document.getElementById("announcer");
  new MutationObserver((records) => records.forEach(() => window.maumAnnouncements.push(announcer.textContent)))
    .observe(announcer, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("chat-ux-server"), MAUM_TRANSCRIBER="fake") as server:
        yield server


def settle(page) -> None:
    """Wait for the fonts and until the log stops scrolling (smooth scrolling, late layout)."""
    page.evaluate("() => document.fonts.ready.then(() => true)")
    last = None
    for _ in range(50):
        now = page.evaluate("() => { const l = document.getElementById('log'); return [l.scrollTop, l.scrollHeight]; }")
        if now == last:
            return
        last = now
        page.wait_for_timeout(120)


def replies(page):
    return page.locator(".bubble.maum:not(.greeting):not(.thinking)")


def say(page, text: str) -> None:
    count = replies(page).count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    expect(replies(page)).to_have_count(count + 1, timeout=60_000)
    settle(page)


def release(page, held: list, timeout_s: float = 30.0) -> None:
    """Let through the one turn request a ``page.route`` handler has been holding back (once it came)."""
    for _ in range(int(timeout_s * 10)):
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1, "the page sent one turn"
    held[0].continue_()


def assert_fully_visible(page, locator, what: str) -> dict:
    g = locator.evaluate(GEOMETRY)
    el, log = g["el"], g["log"]
    assert el["top"] >= log["top"] - 0.5 and el["bottom"] <= log["bottom"] + 0.5, f"{what} is scrolled out: {g}"
    assert el["top"] >= g["header"]["bottom"] - 0.5, f"{what} is under the header: {g}"
    assert el["bottom"] <= g["controls"]["top"] + 0.5, f"{what} is under the input area: {g}"
    assert 0 <= el["left"] and el["right"] <= g["vw"] and el["bottom"] <= g["vh"], f"{what} leaves the screen: {g}"
    assert all(g["uncovered"]), f"something is drawn over {what}: {g}"
    return g


def save_layout(name: str, g: dict) -> None:
    """Keep where things were (CSS px) beside the screenshot, for a person reading the figures."""
    layout = {
        "viewport": [g["vw"], g["vh"]],
        "header_px": round(g["header"]["bottom"] - g["header"]["top"]),
        "input_area_px": round(g["controls"]["bottom"] - g["controls"]["top"]),
        "log_px": round(g["log"]["bottom"] - g["log"]["top"]),
        "reply_top_bottom": [round(g["el"]["top"]), round(g["el"]["bottom"])],
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(layout) + "\n", encoding="utf-8")


def assert_every_number_is_a_tel_link(bubble) -> None:
    text = bubble.locator(".text")
    # A crisis reply carries its situation's lines (a suicide statement: 109 and 112/119); every
    # number it carries is a tap-to-call link and none is left as plain text.
    expect(text.locator('a.tel[href="tel:109"]').first).to_be_visible()
    expect(text.locator('a.tel[href="tel:112"], a.tel[href="tel:119"]').first).to_be_visible()
    plain = text.evaluate("(p) => { const c = p.cloneNode(true); c.querySelectorAll('a').forEach((a) => a.remove());"
                          " return c.textContent; }")  # fmt: skip
    assert not HOTLINE_TEXT.search(plain), f"a hotline number is plain text: {plain}"


@pytest.mark.parametrize("size", SIZES)
def test_a_crisis_reply_is_in_full_view_with_tap_to_call_numbers_and_the_conversation_continues(server, size):
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server, viewport=SIZES[size])
        page.goto(server.url)
        page.wait_for_load_state("networkidle")
        settle(page)
        expect(page.locator("h1")).to_have_count(1)
        assert_accessible(page, "start")
        save_screenshot(page, f"chat-{size}-start.png")

        # The first message shows at once, with Maum's thinking indicator, before the server answers.
        held = []
        page.route("**/api/conversations/*/turns", lambda route: held.append(route))
        page.fill("#text", EVERYDAY[0])
        page.press("#text", "Enter")
        expect(page.locator(".bubble.user .text").first).to_have_text(EVERYDAY[0])
        expect(page.locator(".bubble.maum.thinking")).to_be_visible()
        assert page.evaluate("() => document.activeElement.id") == "text", "typing goes on where it was"
        release(page, held)
        page.unroute("**/api/conversations/*/turns")
        expect(replies(page)).to_have_count(1, timeout=60_000)
        expect(page.locator(".bubble.maum.thinking")).to_have_count(0)
        settle(page)
        for text in EVERYDAY[1:]:
            say(page, text)
        assert_fully_visible(page, replies(page).last, "the fourth reply")
        expect(page.locator(".bubble .emotion")).to_have_count(0)  # MAUM_SHOW_EMOTION_TO_CLIENT is off
        assert_accessible(page, "after typed turns")
        save_screenshot(page, f"chat-{size}-typed.png")

        page.evaluate(WATCH_ANNOUNCER)
        say(page, CRISIS)
        crisis = replies(page).last
        expect(crisis).to_have_class(re.compile(r"\bcrisis\b"))
        expect(crisis.locator("h2.crisis-title")).to_contain_text("도움")  # not colour alone
        save_layout(f"chat-{size}-crisis", assert_fully_visible(page, crisis, "the crisis reply"))
        assert_every_number_is_a_tel_link(crisis)
        announced = page.evaluate("() => window.maumAnnouncements")
        reply_text = crisis.locator(".text").inner_text()
        assert len(announced) == 1 and reply_text in announced[0], announced
        assert page.evaluate("() => document.activeElement.id") == "text"
        assert_accessible(page, "crisis reply")
        save_screenshot(page, f"chat-{size}-crisis.png")

        # The help button, always in the header, opens the six lines as tap-to-call buttons.
        help_button = page.locator("#help-open")
        expect(help_button).to_be_in_viewport()
        help_button.click()
        dialog = page.locator("#help")
        expect(dialog).to_be_visible()
        for tel in HOTLINES:
            expect(dialog.locator(f'a.call[href="tel:{tel}"]')).to_be_in_viewport()
        assert_accessible(page, "help open")
        save_screenshot(page, f"chat-{size}-help.png")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert page.evaluate("() => document.activeElement.id") == "help-open", "focus returns to the button"

        # A reload shows the same conversation, crisis reply and its links included.
        first_id = page.evaluate("() => localStorage.getItem('maum.conversation')")
        page.reload()
        page.wait_for_load_state("networkidle")
        expect(replies(page)).to_have_count(5)
        expect(page.locator(".bubble.user .text")).to_have_text([*EVERYDAY, CRISIS])
        settle(page)
        crisis = replies(page).last
        expect(crisis.locator(".text")).to_have_text(reply_text)
        assert_every_number_is_a_tel_link(crisis)
        assert_fully_visible(page, crisis, "the crisis reply after a reload")
        assert_accessible(page, "after reload")
        save_screenshot(page, f"chat-{size}-reload.png")

        # "새 대화" asks gently, clears the screen, and the next message starts a linked conversation.
        page.click("#new-chat")
        expect(page.locator("#confirm-new")).to_be_visible()
        assert_accessible(page, "new conversation confirm")
        page.click("#confirm-new-yes")
        expect(page.locator(".bubble.user")).to_have_count(0)
        say(page, "다시 이야기하고 싶어요")
        second_id = page.evaluate("() => localStorage.getItem('maum.conversation')")
        save_screenshot(page, f"chat-{size}-new.png")
        watch.assert_clean()
        browser.close()

    assert first_id and second_id and second_id != first_id
    assert server.rows(f"SELECT previous_id FROM conversations WHERE id = '{second_id}'") == [(first_id,)]
    assert server.rows(f"SELECT count(*) FROM turns WHERE conversation_id = '{first_id}'") == [(5,)]


@pytest.mark.parametrize("size", [*SIZES, "phone-large-text"])
def test_at_200_percent_zoom_nothing_scrolls_sideways_and_the_last_reply_shows(server, size):
    with sync_playwright() as p:
        if size == "phone-large-text":
            # A phone whose owner set the text size to 200 %: the browser's default font size doubles.
            browser, page, watch = open_page(p, server, viewport=PHONE)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Page.enable")
            cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
        else:
            # Browser zoom at 200 % halves the CSS viewport and doubles the device pixels: the same here.
            zoomed = {"width": SIZES[size]["width"] // 2, "height": SIZES[size]["height"] // 2}
            browser, page, watch = open_page(p, server, viewport=zoomed, device_scale_factor=2)
        page.goto(server.url)
        page.wait_for_load_state("networkidle")
        say(page, EVERYDAY[1])
        say(page, CRISIS)
        crisis = replies(page).last
        g = crisis.evaluate(GEOMETRY)
        assert g["pageScrollWidth"] <= g["pageWidth"], f"the page scrolls sideways: {g}"
        assert g["logScrollWidth"] <= g["logWidth"], f"the conversation scrolls sideways: {g}"
        # The reply may be taller than the log at this size; then its start, with the heading, shows.
        assert_fully_visible(page, crisis.locator("h2.crisis-title"), "the crisis heading at 200 %")
        if g["el"]["bottom"] - g["el"]["top"] <= g["log"]["bottom"] - g["log"]["top"]:
            assert_fully_visible(page, crisis, "the crisis reply at 200 %")
        expect(page.locator("#help-open")).to_be_in_viewport()
        expect(page.locator("#text")).to_be_in_viewport()
        if size == "phone-large-text":
            assert page.evaluate("() => getComputedStyle(document.body).fontSize") == "34px", "text is twice as large"
        assert_accessible(page, "200 % zoom")
        save_layout(f"chat-{size}-zoom200", g)
        save_screenshot(page, f"chat-{size}-zoom200.png")
        watch.assert_clean()
        browser.close()


# A stand-in for the device's speech synthesis (this Chromium has no voices): the voices given, and a
# speak() that notes what it was asked to say and ends at once.
FAKE_SPEECH = """(voices) => {
  window.maumSpoken = [];
  window.SpeechSynthesisUtterance = function (text) { this.text = text; };
  speechSynthesis.getVoices = () => voices;
  speechSynthesis.speak = (utterance) => {
    window.maumSpoken.push(utterance.text);
    setTimeout(() => utterance.onend && utterance.onend(), 10);
  };
}"""


def with_fake_speech(page, voices: list[dict]) -> None:
    page.add_init_script(f"({FAKE_SPEECH})({json.dumps(voices)})")


def voice(name: str, lang: str, local: bool) -> dict:
    return {"name": name, "lang": lang, "localService": local, "voiceURI": name, "default": False}


def test_a_korean_voice_that_sends_text_to_an_outside_service_is_not_offered(server):
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server)
        with_fake_speech(page, [voice("Google 한국의", "ko-KR", False), voice("English", "en-US", True)])
        page.goto(server.url)
        page.click(".voice-settings summary")
        expect(page.locator("#voice-device")).to_be_disabled()
        expect(page.locator("#voice-note")).to_be_visible()
        expect(page.locator('input[name="voice"][value="server"]')).to_be_checked()
        watch.assert_clean()
        browser.close()


def test_the_device_voice_speaks_a_crisis_reply_in_its_shorter_spoken_form(server):
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server)
        with_fake_speech(page, [voice("Yuna", "ko-KR", True)])

        # Crisis replies may carry a shorter ``spoken_text`` (the care engine's); add one to the real answer.
        def add_spoken_text(route):
            response = route.fetch()
            body = response.json()
            if body["reply"]["kind"] == "crisis":
                body["reply"]["spoken_text"] = "지금 바로 109에 전화해 주세요."
            route.fulfill(response=response, json=body)

        page.route("**/api/conversations/*/turns", add_spoken_text)
        page.goto(server.url)
        page.click(".voice-settings summary")
        expect(page.locator("#voice-device")).to_be_enabled()
        page.check("#voice-device")

        say(page, EVERYDAY[2])
        everyday = replies(page).last.locator(".text").inner_text()
        say(page, CRISIS)
        crisis = replies(page).last
        expect(page.locator("#chat")).to_have_attribute("data-state", "idle")
        spoken = page.evaluate("() => window.maumSpoken")
        assert spoken == [everyday, "지금 바로 109에 전화해 주세요."]
        assert crisis.get_attribute("data-voice") == "device"
        assert "1577-0199" in crisis.locator(".text").inner_text(), "the screen still shows the whole reply"
        page.unroute("**/api/conversations/*/turns")
        watch.assert_clean()
        browser.close()


@pytest.mark.parametrize("motion", ["no-preference", "reduce"])
def test_the_thinking_dots_move_only_for_those_who_welcome_motion(server, motion):
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server, reduced_motion=motion)
        page.goto(server.url)
        held = []
        page.route("**/api/conversations/*/turns", lambda route: held.append(route))
        page.fill("#text", EVERYDAY[0])
        page.press("#text", "Enter")
        dot = page.locator(".bubble.maum.thinking .dots i").first
        expect(dot).to_be_visible()
        animation = dot.evaluate("(el) => getComputedStyle(el).animationName")
        release(page, held)
        page.unroute("**/api/conversations/*/turns")
        expect(replies(page)).to_have_count(1, timeout=60_000)
        watch.assert_clean()
        browser.close()
    assert animation == ("none" if motion == "reduce" else "maum-pulse")


def test_a_remembered_conversation_the_server_no_longer_opens_is_forgotten_quietly(server):
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server)
        page.goto(server.url)
        # As after the browser was closed (the token cookie went with it) or the conversation was deleted.
        page.evaluate("() => localStorage.setItem('maum.conversation', '0'.repeat(32))")
        with page.expect_response(lambda r: r.url.endswith("/api/conversations/" + "0" * 32)) as answer:
            page.reload()
        assert answer.value.status == 401
        expect(page.locator("#chat")).to_have_attribute("data-state", "idle")
        expect(page.locator("#error")).to_be_hidden()
        assert page.evaluate("() => localStorage.getItem('maum.conversation')") is None
        say(page, EVERYDAY[0])
        new_id = page.evaluate("() => localStorage.getItem('maum.conversation')")
        # The one expected refusal, and Chromium's console line about it; nothing else may fail.
        watch.failed_responses.remove(f"401 {server.url}/api/conversations/{'0' * 32}")
        watch.console_errors.remove("Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)")
        watch.assert_clean()
        browser.close()
    assert new_id and new_id != "0" * 32
    assert server.rows(f"SELECT previous_id FROM conversations WHERE id = '{new_id}'") == [(None,)]


def relative_luminance(rgb: str) -> float:
    """WCAG relative luminance of a computed CSS colour such as ``rgb(29, 78, 216)``."""
    channels = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_focus_rings_and_the_text_box_border_stand_out_at_least_3_to_1(server):
    with sync_playwright() as p:
        browser, page, watch = open_page(p, server)
        page.goto(server.url)
        page.wait_for_load_state("networkidle")
        page_bg = page.evaluate("() => getComputedStyle(document.querySelector('.controls')).backgroundColor")
        header_bg = page.evaluate("() => getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        box_border = page.locator("#text").evaluate("(el) => getComputedStyle(el).borderTopColor")
        rings = {}
        for selector in ("#record", "#send", "#help-open"):
            page.locator(selector).focus()
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
            rings[selector] = page.locator(selector).evaluate(
                "(el) => [getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineColor]"
            )
        watch.assert_clean()
        browser.close()
    assert contrast(box_border, page_bg) >= 3 and contrast(box_border, "rgb(255, 255, 255)") >= 3
    for selector, (style, color) in rings.items():
        behind = header_bg if selector == "#help-open" else page_bg
        assert style == "solid" and contrast(color, behind) >= 3, (selector, color, behind)
