"""Response headers that keep pages to their own origin."""

from __future__ import annotations

from flask import Flask, Response

#: Pages load scripts, styles, images and fonts only from this server; reply audio may also be a
#: ``blob:`` URL made from a fetched file. Nothing may frame the page.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

#: The chat page records from the microphone; nothing else may.
PERMISSIONS_POLICY = "microphone=(self), camera=(), geolocation=()"


def set_security_headers(response: Response) -> Response:
    """Add the headers every response carries (no sniffing, no referrer), and CSP, framing and permissions on pages."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def register(app: Flask) -> None:
    """Add the headers to every response of ``app``."""
    app.after_request(set_security_headers)
