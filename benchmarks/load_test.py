"""Load test: N simulated clients talking to Maum through gunicorn at the same time; prints JSON.

Each client opens a conversation and sends voice turns (the real Korean recordings in
``../shared/eval/korean-speech``, round-robin) as the browser does: multipart WAV, then fetches the
reply audio sentence by sentence (``reply.clips``); latency is the time to the reply text, and
``first_audio_ms`` the time until the first sentence's audio has arrived.
Clients behave like people (``--think``, the default): each starts at a random moment
within the first few seconds, listens to every reply for as long as its audio lasts, then speaks
its next recording for as long as that lasts before sending it. ``--no-think`` sends every turn
back to back with all clients starting together: a worst-case burst, not a conversation.

By default the script starts ``gunicorn wsgi:app -c gunicorn.conf.py`` itself (the deployed
configuration: 2 workers × 2 threads, models loaded lazily) on a free port with a throw-away
instance folder and an empty sentence cache (``MAUM_TTS_CACHE_DIR`` inside it, unless set), warms
every worker, and stops it afterwards. ``--url`` targets a running server.

Run::

    make load                          # 8 clients × 5 turns each
    .venv/bin/python -m benchmarks.load_test --clients 8 --turns 5
    .venv/bin/python -m benchmarks.load_test --url http://127.0.0.1:8000 --clients 8

Target (ARCHITECTURE.md, 2 CPU cores): 8 clients, 0 errors, p95 turn latency ≤ 4 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import soundfile as sf

from benchmarks.pipeline_bench import percentiles
from pipeline.metrics import read_transcripts

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPEECH = REPO.parent / "shared" / "eval" / "korean-speech"
TIMEOUT_S = 120
START_SPREAD_S = 5.0  # clients with think time start within this many seconds of each other


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """``(status, body)`` of a GET (or a POST when ``data`` is given); HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def multipart(field: str, filename: str, payload: bytes) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with one WAV file field, and its content type."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def wav_seconds(payload: bytes) -> float:
    """The length of a WAV file in seconds."""
    return sf.info(io.BytesIO(payload)).duration


def client(base: str, clips: list[tuple[bytes, float]], turns: int, offset: int, think: bool, out: dict) -> None:
    """One simulated client; appends per-turn latencies (s) and errors to ``out``."""
    rng = random.Random(offset)
    if think:
        time.sleep(rng.uniform(0, START_SPREAD_S))
    status, body = request(f"{base}/api/conversations", data=b"")
    if status != 201:
        out["errors"].append(f"create: {status} {body[:200]!r}")
        return
    conversation = json.loads(body)
    auth = {"Authorization": f"Bearer {conversation['token']}"}
    for i in range(turns):
        wav, duration_s = clips[(offset + i) % len(clips)]
        if think:
            time.sleep(duration_s)  # the client is speaking this recording
        data, content_type = multipart("audio", "recording.wav", wav)
        start = time.perf_counter()
        turns_url = f"{base}/api/conversations/{conversation['id']}/turns"
        status, body = request(turns_url, data=data, headers={**auth, "Content-Type": content_type})
        if status != 201:
            out["errors"].append(f"turn: {status} {body[:200]!r}")
            continue
        answer = json.loads(body)
        reply = answer["reply"]
        out["latencies"].append(time.perf_counter() - start)  # the reply text is on the page
        for stage, ms in (answer.get("timings_ms") or {}).items():
            out["stages"].setdefault(stage, []).append(ms)
        listen_s = 0.0
        for n, clip in enumerate(reply.get("clips") or []):  # the page plays the reply sentence by sentence
            audio_status, audio = request(base + clip["url"], headers=auth)
            if audio_status != 200:
                out["errors"].append(f"reply clip {n}: {audio_status}")
                break
            if n == 0:
                out["first_audio"].append(time.perf_counter() - start)
            listen_s += wav_seconds(audio)
        if think:
            time.sleep(listen_s)  # the client listens to the reply


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn_server(workers: int):
    """The deployed configuration on a free port, with a throw-away instance folder."""
    with tempfile.TemporaryDirectory(prefix="maum-load-") as tmp:
        # The caller's MAUM_* settings apply (e.g. MAUM_WHISPER_CPU_THREADS); its database never does.
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MAUM_DATABASE_URL"}}
        env.update(HF_HUB_OFFLINE="1", MAUM_INSTANCE_PATH=tmp)
        # An empty sentence cache: first audio is synthesised, not read from earlier runs' cache
        # (replies repeated within the run hit it, as curated replies do in service).
        env.setdefault("MAUM_TTS_CACHE_DIR", str(Path(tmp) / "tts-cache"))
        # Every simulated client comes from 127.0.0.1: per-address rate limits would count them as one.
        env.setdefault("MAUM_RATE_TURNS_PER_IP", "0")
        env.setdefault("MAUM_RATE_CONVERSATIONS_PER_IP", "0")
        bin_dir = Path(sys.executable).parent
        subprocess.run([bin_dir / "flask", "--app", "wsgi", "db", "upgrade"], cwd=REPO, env=env, check=True,
                       capture_output=True)  # fmt: skip
        port = free_port()
        log = open(Path(tmp) / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [bin_dir / "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py", "--workers", str(workers),
             "--bind", f"127.0.0.1:{port}"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if request(f"{base}/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start:\n" + (Path(tmp) / "gunicorn.log").read_text()[-2000:])
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def warm_up(base: str, workers: int) -> float:
    """Load the models in every worker (each /readyz lands on some worker; ask until all answered fast)."""
    start = time.perf_counter()
    threads = [threading.Thread(target=request, args=(f"{base}/readyz",)) for _ in range(workers * 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def run(base: str, clients: int, turns: int, think: bool, speech_dir: Path) -> dict:
    """Several clients talking at once for ``turns`` voice turns each; latency percentiles and errors."""
    clips = []
    for path, _ in read_transcripts(speech_dir):
        clips.append((path.read_bytes(), sf.info(str(path)).duration))
    out: dict = {"latencies": [], "first_audio": [], "errors": [], "stages": {}}
    threads = [
        threading.Thread(target=client, args=(base, clips, turns, i, think, out)) for i in range(clients)
    ]  # fmt: skip
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - start
    latencies_ms = [s * 1000 for s in out["latencies"]]
    p = percentiles(latencies_ms) if latencies_ms else {}
    return {
        "clients": clients,
        "turns_per_client": turns,
        "think_time": think,
        "turns_ok": len(latencies_ms),
        "errors": len(out["errors"]),
        "error_samples": out["errors"][:5],
        "wall_s": round(wall_s, 1),
        "turns_per_s": round(len(latencies_ms) / wall_s, 2),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "latency_ms": p,  # time to the reply text
        "first_audio_ms": percentiles([s * 1000 for s in out["first_audio"]]) if out["first_audio"] else {},
        # Where the reply-text time went, as the server measured each stage (queueing shows as a
        # gap between these and latency_ms).
        "server_stage_ms": {stage: percentiles(ms) for stage, ms in sorted(out["stages"].items())},
        "targets": {
            "zero_errors": not out["errors"],
            "p95_le_4000_ms": bool(p) and p["p95"] <= 4000,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Load-test a running server (or gunicorn started here) and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Maum server; default: start gunicorn here")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--turns", type=int, default=5, help="voice turns per client")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers when starting the server")
    parser.add_argument("--think", action=argparse.BooleanOptionalAction, default=True,
                        help="wait as long as each recording lasts before sending it")  # fmt: skip
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH)
    args = parser.parse_args(argv)

    if args.url:
        measured = run(args.url.rstrip("/"), args.clients, args.turns, args.think, args.speech_dir)
        result = {"server": args.url, **measured}
    else:
        with gunicorn_server(args.workers) as base:
            warm_s = warm_up(base, args.workers)
            result = run(base, args.clients, args.turns, args.think, args.speech_dir)
            result = {"server": f"gunicorn, {args.workers} workers (started here)", "warm_up_s": round(warm_s, 1),
                      **result}  # fmt: skip
    result["cpu_count"] = os.cpu_count()
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
