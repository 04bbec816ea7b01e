"""Turns per second and p95 latency: one app node directly, then two nodes behind nginx.

Starts the deployment of ``tests/multinode.py`` (moto S3, PostgreSQL schema ``maum_multinode``,
gunicorn nodes with the fake backends, Debian's nginx) and drives typed turns with Idempotency-Keys
from ``--clients`` threads for ``--seconds`` per phase. With fake backends this measures the web
layer, storage (Opus encoding, encryption, S3 PUT) and the database, not the models.

Run: ``MAUM_TEST_POSTGRES_URL=postgresql://... .venv/bin/python -m benchmarks.multinode_bench``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from tests.multinode import cluster
from tests.test_multinode import send_turn, start_conversation


def drive(base: str, clients: int, seconds: float) -> tuple[int, int, float, float]:
    """``(ok, failed, turns/s, p95 ms)`` of ``clients`` threads sending turns to ``base`` for ``seconds``."""
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        conversation_id, token = start_conversation(base)
        while time.monotonic() < stop:
            start = time.monotonic()
            status, _, _ = send_turn(base, conversation_id, token, "요즘 잠을 잘 못 자요")
            with lock:
                if status in (200, 201):
                    latencies.append(time.monotonic() - start)
                else:
                    failed[0] += 1

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1e3 if latencies else float("nan")
    return len(latencies), failed[0], len(latencies) / elapsed, p95


def main() -> None:
    """Turns per second and p95 latency on one node, then two behind nginx; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    url = os.environ["MAUM_TEST_POSTGRES_URL"]
    with tempfile.TemporaryDirectory() as tmp, cluster(Path(tmp), url, nodes=2) as running:
        for name, base in (("one node, direct", running.node_urls[0]), ("two nodes behind nginx", running.url)):
            ok, failed, rate, p95 = drive(base, args.clients, args.seconds)
            print(f"{name}: {ok} turns ({failed} failed), {rate:.1f} turns/s, p95 {p95:.0f} ms")


if __name__ == "__main__":
    main()
