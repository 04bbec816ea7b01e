"""Serving settings for ``gunicorn wsgi:app -c gunicorn.conf.py`` (gunicorn also finds this file by itself).

Models load in each worker on its first request; ``preload_app`` stays off because CUDA and
model threads do not survive the fork.
"""

import os

wsgi_app = "wsgi:app"
bind = os.environ.get("MAUM_BIND", "127.0.0.1:8000")
workers = 2
worker_class = "gthread"  # the sync worker, with threads
threads = 2
timeout = 120  # a cold worker loads its models on its first turn
preload_app = False
accesslog = "-"  # stdout
errorlog = "-"
