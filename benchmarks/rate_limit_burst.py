"""Burst against the API's rate limit: how many turns get through, when refusals start; prints JSON.

Two app instances (as two gunicorn workers or nodes would be) share one throw-away SQLite database
and take turns answering a burst of text turns from one client address, on the fake pipeline, so
only the limiter is measured. With the defaults (30 requests, 10 per 60 s per address, no
per-conversation limit) exactly the first 10 are accepted, whichever instance answers. The clock is
real: a burst that happens to straddle the end of a window (about 1 run in 40) sees the count start
afresh there, as a fixed window should.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.rate_limit_burst
    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.rate_limit_burst --requests 50 --limit 20 --instances 3
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time

import flask_migrate
import sqlalchemy as sa

from pipeline.settings import Settings
from webapp import create_app
from webapp.config import AppSettings
from webapp.db import Turn, db

FAKE_PIPELINE = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


def run(requests: int, limit: int, window_s: int, instances: int) -> dict[str, object]:
    """Send ``requests`` text turns round-robin through ``instances`` apps; return what happened."""
    with tempfile.TemporaryDirectory() as folder:
        settings = AppSettings(
            instance_path=folder,
            secret_key="burst",
            pipeline=FAKE_PIPELINE,
            rate_limit_window_s=window_s,
            rate_turns_per_ip=limit,
            rate_turns_per_conversation=0,
        )
        apps = [create_app(settings) for _ in range(instances)]
        with apps[0].app_context():
            flask_migrate.upgrade()
        clients = [app.test_client() for app in apps]
        created = clients[0].post("/api/conversations").json
        url = f"/api/conversations/{created['id']}/turns"
        headers = {"Authorization": f"Bearer {created['token']}"}
        statuses: list[int] = []
        retry_after: list[int] = []
        started = time.perf_counter()
        for i in range(requests):
            response = clients[i % instances].post(url, json={"text": f"{i}번째 말이에요"}, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after.append(int(response.headers["Retry-After"]))
        elapsed_ms = (time.perf_counter() - started) * 1000
        with apps[0].app_context():
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(Turn))
        for app in apps:
            with app.app_context():
                db.engine.dispose()
    refused = statuses.count(429)
    return {
        "instances": instances,
        "limit_per_window": limit,
        "window_s": window_s,
        "requests_sent": requests,
        "accepted": statuses.count(201),
        "refused": refused,
        "other_statuses": sorted({s for s in statuses if s not in (201, 429)}),
        "first_refusal_index": statuses.index(429) if refused else None,
        "retry_after_s": {"first": retry_after[0], "last": retry_after[-1]} if retry_after else None,
        "turns_stored": stored,
        "mean_ms_per_request": round(elapsed_ms / requests, 2),
    }


def main() -> None:
    """Burst turns from one address at app instances sharing a database; print when refusals start."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--limit", type=int, default=10, help="turns per window per address")
    parser.add_argument("--window-s", type=int, default=60)
    parser.add_argument("--instances", type=int, default=2, help="app instances sharing the database")
    args = parser.parse_args()
    for name in ("webapp", "pipeline"):  # stdout holds the JSON only, not a log line per 429
        logging.getLogger(name).setLevel(logging.WARNING)
    print(json.dumps(run(args.requests, args.limit, args.window_s, args.instances), ensure_ascii=False))


if __name__ == "__main__":
    main()
