"""Serving settings for ``gunicorn wsgi:app -c gunicorn.conf.py`` (gunicorn also finds this file by itself).

Models load in each worker, never in the master: ``preload_app`` stays off because CUDA and
model threads do not survive the fork. Each worker starts loading its models in a background
thread as soon as it is up (``MAUM_WARM_WORKERS=0`` turns that off), so that the first client
of a fresh worker does not wait for the loading; requests that come sooner wait on the same lock.
Each worker also sweeps the audio store once at start-up (``webapp/repair.py``).
"""

import os
import threading

wsgi_app = "wsgi:app"
bind = os.environ.get("MAUM_BIND", "127.0.0.1:8000")
workers = 2
worker_class = "gthread"  # the sync worker, with threads
# Request threads mostly wait (for the transcriber, which takes one request at a time, or for the
# voice, which runs in its own low-priority thread): with 2, a worker whose threads both waited on
# reply clips left a new turn queued behind them. 8 lets every one of 8 clients' requests start.
threads = int(os.environ.get("MAUM_GUNICORN_THREADS", "8"))
timeout = 120  # a cold worker loads its models on its first turn
preload_app = False

# Whisper's CPU threads per request: with several requests in flight, threads beyond one per core
# only fight each other (measured with benchmarks/load_test.py on 2 cores: 8 clients, p95 5.4 s
# with 2 threads, 3.9 s with 1). An explicit MAUM_WHISPER_CPU_THREADS wins.
os.environ.setdefault("MAUM_WHISPER_CPU_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
accesslog = "-"  # stdout
errorlog = "-"


def post_worker_init(worker):
    """In each new worker: start the audio-store repair sweep and, unless turned off, warm the models."""
    app = worker.wsgi  # the Flask app built by wsgi.py in this worker
    from webapp.extensions import get_pipeline
    from webapp.repair import sweep_at_startup

    # Once per worker, in the background: what a crash left in the audio store (webapp/repair.py).
    threading.Thread(target=sweep_at_startup, args=(app,), name="maum-repair-sweep", daemon=True).start()
    if os.environ.get("MAUM_WARM_WORKERS", "1") == "0":
        return
    pipeline = get_pipeline(app)

    def warm():
        # Every stage is tried even when one fails: a broken voice must not leave the others cold.
        failed = pipeline.load_report()
        if failed:
            worker.log.error("worker %s: degraded, these stages failed to load: %s", worker.pid, failed)
        else:
            worker.log.info("worker %s: models loaded", worker.pid)

    threading.Thread(target=warm, name="maum-warm-models", daemon=True).start()


def worker_exit(server, worker):
    """Before a worker exits: let the reply audio it still assembles reach the store (up to 20 s)."""
    # Replies answered by this worker still get their complete audio file for the counsellor.
    from webapp.reply_audio import wait_for_reply_audio

    wait_for_reply_audio(timeout_s=20)
