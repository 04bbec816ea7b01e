"""Browser tests' building blocks: the real app under gunicorn, and Debian's Chromium through Playwright.

``live_server(tmp_path, **env)`` starts ``gunicorn wsgi:app`` (one worker) on a free localhost port
with a fresh instance folder, the schema upgraded by ``flask db upgrade`` as an operator would.
``launch_chromium(playwright, fake_audio=...)`` starts /usr/bin/chromium headless with the flags
these closed machines need, and a WAV file as the microphone. ``axe_violations(page)`` runs
axe-core (served from ``static/vendor/axe-core`` by the app itself, injected only here) on the page
as it is. Tests using them carry the ``browser`` and ``enable_socket`` markers (they talk to the
server over TCP on localhost).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
#: Screenshots and server logs that a person should look at after a run (gitignored).
ARTIFACTS = REPO / "tests" / "artifacts"

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class LiveServer:
    url: str
    instance_path: Path
    log_path: Path
    process: subprocess.Popen

    def database_url(self) -> str:
        return f"sqlite:///{self.instance_path / 'maum.sqlite3'}"

    def rows(self, sql: str) -> list[tuple]:
        """Run one SELECT on the server's database."""
        engine = sa.create_engine(self.database_url())
        try:
            with engine.connect() as connection:
                return [tuple(r) for r in connection.execute(sa.text(sql))]
        finally:
            engine.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(instance_path: Path, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAUM_") and k != "DATABASE_URL"}
    return {**base, "HF_HUB_OFFLINE": "1", "MAUM_INSTANCE_PATH": str(instance_path), **env}


def wait_for(url: str, timeout_s: float, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s} s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def live_server(tmp_path: Path, ready_timeout_s: float = 180.0, **env: str) -> Iterator[LiveServer]:
    """Run ``gunicorn wsgi:app`` as deployed (1 worker) until the block ends; wait until /readyz passes."""
    instance = tmp_path / "instance"
    environ = server_env(instance, **env)
    python = Path(sys.executable)
    subprocess.run(
        [python.with_name("flask"), "--app", "wsgi", "db", "upgrade"], cwd=REPO, env=environ, check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [python.with_name("gunicorn"), "wsgi:app", "-c", "gunicorn.conf.py", "--workers", "1",
             "--bind", f"127.0.0.1:{port}"],
            cwd=REPO, env=environ, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", instance, log_path, process)
    try:
        wait_for(f"{server.url}/healthz", 30, process, log_path)
        wait_for(f"{server.url}/readyz", ready_timeout_s, process, log_path)  # loads the models
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_chromium(playwright, fake_audio: Path | None = None):
    """Debian's Chromium, headless, with ``fake_audio`` (a WAV) played once as the microphone."""
    args = list(CHROMIUM_FLAGS)
    if fake_audio is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={fake_audio}%noloop"]
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


#: Viewport of a phone (the chat and practice pages are used on phones first).
PHONE = {"width": 390, "height": 844}


def open_page(
    playwright, server: LiveServer, fake_audio: Path | None = None, viewport: dict | None = None, **context_options
):
    """Chromium, one Korean-locale page watched by ``PageWatch``; microphone granted when ``fake_audio`` is given.

    ``context_options`` go to Playwright's ``new_context`` (``device_scale_factor``, ``reduced_motion``, ...).
    Returns ``(browser, page, watch)``; close the browser when done.
    """
    browser = launch_chromium(playwright, fake_audio=fake_audio)
    context = browser.new_context(viewport=viewport or PHONE, locale="ko-KR", **context_options)
    if fake_audio is not None:
        context.grant_permissions(["microphone"], origin=server.url)
    page = context.new_page()
    return browser, page, PageWatch(page, server.url)


class PageWatch:
    """Everything a page did that a test should fail on: console errors, CSP reports, outside requests."""

    def __init__(self, page, origin: str) -> None:
        self.origin = origin
        self.console_errors: list[str] = []
        self.outside_requests: list[str] = []
        self.failed_responses: list[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("request", self._request)
        page.on("response", lambda r: self.failed_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def _request(self, request) -> None:
        url = request.url
        if not (url.startswith(self.origin) or url.startswith(("blob:", "data:"))):
            self.outside_requests.append(url)

    def assert_clean(self) -> None:
        assert self.outside_requests == [], "the page may load nothing from outside the server"
        assert self.failed_responses == []
        assert self.console_errors == [], self.console_errors


def save_screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


#: axe-core, copied from the npm package by scripts/vendor.sh; no page of the app loads it itself.
AXE_SCRIPT = "/static/vendor/axe-core/axe.min.js"

#: The axe impacts a page may not have (minor and moderate findings are reported, not failed on).
BLOCKING_IMPACTS = ("serious", "critical")

_RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "")),
  }));
}"""


def axe_violations(page, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """Run axe-core (WCAG 2.x rules, its defaults) on ``page`` as it is now; return the violations of ``impacts``.

    Each violation is ``{"id", "impact", "help", "nodes"}`` with up to five failing elements. The
    script is injected from the server's own static folder, so the page's Content-Security-Policy
    (``script-src 'self'``) stays as deployed.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_SCRIPT)
    return [v for v in page.evaluate(_RUN_AXE) if v["impact"] in impacts]


def assert_accessible(page, state: str) -> None:
    """Fail with axe's findings when ``page`` has a serious or critical accessibility violation."""
    violations = axe_violations(page)
    assert violations == [], f"axe-core, {state}: {violations}"
