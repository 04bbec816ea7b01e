"""The HTML side: the chat page, static files, and Korean error pages."""

from __future__ import annotations

import re

import pytest

from tests.databases import database_url  # noqa: F401  (every app test runs on SQLite and PostgreSQL)
from tests.web import CRISIS_NUMBERS, fetch
from webapp import create_app


def test_chat_page_is_korean_self_contained_and_shows_crisis_lines(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ko">' in html
    assert 'name="viewport"' in html
    for number in CRISIS_NUMBERS:
        assert number in html
    assert "AI" in html
    assert "http://" not in html and "https://" not in html, "nothing may come from the internet"
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/static/") for src in sources)
    assert '"sadness": "\\uc2ac\\ud514"' in html or '"sadness": "슬픔"' in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "media-src 'self' blob:" in csp
    assert "unsafe-inline" not in csp


@pytest.mark.parametrize("name", ["chat.js", "recorder.js", "chat.css"])
def test_static_files_are_served(client, name):
    response = fetch(client, f"/static/{name}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "http://" not in body and "https://" not in body
    if name.endswith(".js"):
        assert "innerHTML" not in body, "user text goes into textContent only"


def test_html_error_pages_are_korean_and_escape_what_they_show(client):
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "찾을 수 없어요" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "Content-Security-Policy" in response.headers


def test_html_500_page_is_korean_without_details(settings):
    app = create_app(settings)

    def boom():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/boom", view_func=boom)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "문제가 생겼어요" in html and "109" in html
    assert "secret internal detail" not in html and "Traceback" not in html
