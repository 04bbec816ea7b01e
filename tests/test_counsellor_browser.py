"""The counsellor pages in Debian's Chromium, against gunicorn with the default models.

A client conversation is seeded through the JSON API (typed turns with different feelings, one
high-risk turn, one real Korean recording); a counsellor account is made with the CLI against the
server's database. The test signs in through the page, finds the alert, opens the conversation,
plays the client's recording and Maum's reply, checks that the emotion chart was drawn, leaves a
note, marks it reviewed, and checks the audit trail. Screenshots: tests/artifacts/counsellor.png
(the conversation) and tests/artifacts/counsellor-list.png.

A second test opens a typed conversation on a phone and on a desktop: the chart keeps its height
(it once grew by thousands of pixels in seconds), the axis fits the scores, the summary's link
jumps to the risky turn, and axe-core finds nothing serious on the list or the conversation.
Screenshots: tests/artifacts/counsellor-{list,detail}-{phone,desktop}.png.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import PHONE, REPO, axe_violations, live_server, open_page, save_screenshot, server_env
from tests.samples import real_sentences

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.enable_socket]

DESKTOP = {"width": 1366, "height": 900}
EMAIL = "counsellor@maum.example"
PASSWORD = "browser-test-pass-1"

TEXT_TURNS = [
    "안녕하세요, 요즘 이야기할 사람이 없어서 찾아왔어요",
    "회사에서 상사가 모두 앞에서 소리를 질러서 정말 화가 났어요",
    "밤마다 혼자 있으면 무섭고 불안해서 잠을 못 자요",
    "요즘은 계속 우울하고 이유 없이 눈물이 나요",
    "가끔은 죽고 싶다는 생각이 들어요",
]
LAST_TEXT = "그래도 오늘은 친구가 연락해 줘서 조금 기뻤어요"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("counsellor-server")) as server:
        yield server


@pytest.fixture(scope="module")
def account(server) -> None:
    create_account(server)


def create_account(server) -> None:
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run(
        [flask, "--app", "wsgi", "users", "create", EMAIL, "--role", "counsellor", "--password-stdin"],
        input=PASSWORD + "\n", text=True, capture_output=True, cwd=REPO, env=server_env(server.instance_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert EMAIL in done.stdout


def seed_calm_conversation(playwright, server) -> str:
    """A newer conversation without risk: the risky one must still be listed above it."""
    api = playwright.request.new_context(base_url=server.url)
    try:
        started = api.post("/api/conversations").json()
        url = f"/api/conversations/{started['id']}/turns"
        headers = {"Authorization": f"Bearer {started['token']}"}
        turn = api.post(url, data={"text": "오늘은 날씨가 좋아서 산책했어요"}, headers=headers)
        assert turn.status == 201 and turn.json()["risk"]["level"] == "none"
        return started["id"]
    finally:
        api.dispose()


def seed_conversation(playwright, server) -> str:
    """One client's conversation through the JSON API, as the chat page would send it."""
    api = playwright.request.new_context(base_url=server.url)
    try:
        started = api.post("/api/conversations")
        assert started.status == 201
        conversation_id, token = started.json()["id"], started.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/conversations/{conversation_id}/turns"
        risks = []
        for text in TEXT_TURNS:
            turn = api.post(url, data={"text": text}, headers=headers)
            assert turn.status == 201, turn.text()
            risks.append(turn.json()["risk"]["level"])
        wav, _ = real_sentences()[0]
        audio = {"name": "recording.wav", "mimeType": "audio/wav", "buffer": wav.read_bytes()}
        spoken = api.post(url, multipart={"audio": audio}, headers=headers, timeout=60_000)
        assert spoken.status == 201, spoken.text()
        assert spoken.json()["transcript"], "the recording was heard"
        last = api.post(url, data={"text": LAST_TEXT}, headers=headers)
        assert last.status == 201
        assert risks.count("high") == 1, risks
        return conversation_id
    finally:
        api.dispose()


def test_counsellor_signs_in_hears_the_audio_and_sees_the_timeline(server, account):
    with sync_playwright() as p:
        conversation_id = seed_conversation(p, server)
        calm_id = seed_calm_conversation(p, server)
        browser, page, watch = open_page(p, server, viewport=DESKTOP)

        page.goto(f"{server.url}/counsellor/")
        expect(page).to_have_url(f"{server.url}/counsellor/login?next=/counsellor/")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")

        expect(page).to_have_url(f"{server.url}/counsellor/")
        expect(page.locator("#alert-banner .alert-count")).to_have_text("1")
        rows_shown = page.locator("tr[data-conversation]")
        expect(rows_shown).to_have_count(2)
        assert rows_shown.nth(0).get_attribute("data-conversation") == conversation_id, "the risky one on top"
        assert rows_shown.nth(1).get_attribute("data-conversation") == calm_id
        row = page.locator(f'tr[data-conversation="{conversation_id}"]')
        expect(row).to_have_class("pinned risk-row-high")
        expect(row).to_contain_text("7번")
        save_screenshot(page, "counsellor-list.png")

        row.locator("a.open").click()
        expect(page.locator("h1")).to_contain_text(conversation_id[:8])
        expect(page.locator("li.turn")).to_have_count(7)
        expect(page.locator("li.turn.risk-high")).to_have_count(1)
        expect(page.locator("li.turn.risk-high .risk-reasons li").first).to_be_visible()

        chart = page.locator("#emotion-chart")
        expect(chart).to_have_attribute("data-state", "drawn")
        drawn = page.evaluate(
            """() => {
                const canvas = document.getElementById("emotion-chart");
                const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
                const chart = Chart.getChart(canvas);
                return {painted, datasets: chart.data.datasets.length, points: chart.data.labels.length,
                        width: canvas.width, height: canvas.height};
            }"""
        )

        # The complete reply file is assembled after the answer, behind the clips clients wait for:
        # until it exists the page says so, and a reload shows the player.
        for _ in range(60):
            if page.locator("audio.reply-audio").count():
                break
            expect(page.locator("p.pending-audio").first).to_be_visible()
            page.wait_for_timeout(2000)
            page.reload()
        played = {}
        for selector in ("audio.user-audio", "audio.reply-audio"):
            player = page.locator(selector).first
            player.scroll_into_view_if_needed()
            played[selector] = player.evaluate(
                """el => new Promise((resolve, reject) => {
                    el.addEventListener("error", () => reject(new Error("audio error " + (el.error && el.error.code))));
                    el.addEventListener("playing", () => setTimeout(() => {
                        el.pause();
                        resolve({currentTime: el.currentTime, duration: el.duration});
                    }, 600), {once: true});
                    el.play().catch(reject);
                })"""
            )

        page.fill("#note-body", "보호자와 통화함. 내일 오전에 다시 연락하기로 했어요.")
        page.click(".note-form button[type=submit]")
        expect(page.locator(".note-list .note")).to_have_count(1)
        expect(page.locator(".note-meta")).to_contain_text(EMAIL)
        page.locator("#emotion-chart[data-state=drawn]").wait_for()
        save_screenshot(page, "counsellor.png")

        page.click("#mark-reviewed")
        expect(page.locator("#review-state")).to_contain_text(EMAIL)
        expect(page.locator("#alert-banner")).to_have_count(0)
        fonts_ready = page.evaluate("document.fonts.check('16px \"Noto Sans KR\"', '마음')")
        watch.assert_clean()
        browser.close()

    assert drawn["datasets"] == 7 and drawn["points"] == 7
    assert drawn["painted"] > 0.02 * drawn["width"] * drawn["height"], drawn
    for selector, state in played.items():
        assert state["currentTime"] > 0.1, (selector, state)
    assert fonts_ready
    actions = [r[0] for r in server.rows("SELECT action FROM audit_events ORDER BY id")]
    assert actions[0] == "user_create"
    for action in ("login", "view_list", "view_conversation", "play_audio", "note", "review"):
        assert action in actions, action
    plays = server.rows("SELECT conversation_id, user_email, ip FROM audit_events WHERE action = 'play_audio'")
    assert len(plays) == 2, "one row per play, not per range request"
    assert all(r == (conversation_id, EMAIL, "127.0.0.1") for r in plays)


def sign_in(page, server) -> None:
    page.goto(f"{server.url}/counsellor/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/counsellor/")


def seed_typed_conversation(playwright, server) -> tuple[str, int]:
    """Typed turns only; returns the conversation id and the number of its high-risk turn."""
    api = playwright.request.new_context(base_url=server.url)
    try:
        started = api.post("/api/conversations").json()
        headers = {"Authorization": f"Bearer {started['token']}"}
        high = []
        for number, text in enumerate([*TEXT_TURNS, LAST_TEXT], start=1):
            turn = api.post(f"/api/conversations/{started['id']}/turns", data={"text": text}, headers=headers)
            assert turn.status == 201, turn.text()
            if turn.json()["risk"]["level"] == "high":
                high.append(number)
        assert len(high) == 1, high
        return started["id"], high[0]
    finally:
        api.dispose()


CHART_STATE = """() => {
    const canvas = document.getElementById("emotion-chart");
    const chart = Chart.getChart(canvas);
    const scores = chart.data.datasets.flatMap(d => d.data);
    return {height: canvas.getBoundingClientRect().height, page: document.documentElement.scrollHeight,
            yMax: chart.scales.y.max, highest: Math.max(...scores),
            ticks: chart.scales.y.ticks.map(t => t.label)};
}"""


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_chart_keeps_its_height_and_the_summary_jumps_to_the_risky_turn(server, account, size):
    viewport = PHONE if size == "phone" else DESKTOP
    with sync_playwright() as p:
        conversation_id, high_turn = seed_typed_conversation(p, server)
        browser, page, watch = open_page(p, server, viewport=viewport)
        sign_in(page, server)
        row = page.locator(f'tr[data-conversation="{conversation_id}"]')
        expect(row.locator(".snippet-text")).to_have_text(TEXT_TURNS[high_turn - 1])
        assert page.locator("h1").count() == 1
        list_findings = axe_violations(page)
        save_screenshot(page, f"counsellor-list-{size}.png")

        page.goto(f"{server.url}/counsellor/conversations/{conversation_id}")
        expect(page.locator("#emotion-chart")).to_have_attribute("data-state", "drawn")
        before = page.evaluate(CHART_STATE)
        page.wait_for_timeout(5000)
        after = page.evaluate(CHART_STATE)
        assert page.locator("h1").count() == 1
        detail_findings = axe_violations(page)
        save_screenshot(page, f"counsellor-detail-{size}.png")

        jump = page.locator(f'#overview a.jump[href="#turn-{high_turn}"]')
        expect(jump).to_be_visible()
        jump.click()
        expect(page).to_have_url(f"{server.url}/counsellor/conversations/{conversation_id}#turn-{high_turn}")
        landed = page.evaluate(
            f"""() => {{
                const turn = document.getElementById("turn-{high_turn}");
                return {{top: turn.getBoundingClientRect().top, viewport: window.innerHeight,
                         high: turn.classList.contains("risk-high"), targeted: turn.matches(":target")}};
            }}"""
        )
        watch.assert_clean()
        browser.close()

    assert after["height"] == before["height"] and after["page"] == before["page"], (before, after)
    assert 200 <= before["height"] <= 400, before
    assert before["highest"] <= before["yMax"] <= max(0.5, before["highest"] + 0.1) + 1e-9, before
    assert all(t.endswith("%") for t in before["ticks"]), before["ticks"]
    assert landed["high"] and landed["targeted"], landed
    assert list_findings == [], f"axe-core, the list: {list_findings}"
    assert detail_findings == [], f"axe-core, the conversation: {detail_findings}"
    assert 0 <= landed["top"] < landed["viewport"] / 2, landed
