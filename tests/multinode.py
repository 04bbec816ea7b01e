"""A multi-node deployment on localhost: an S3 server (moto), N gunicorn nodes sharing PostgreSQL, nginx in front.

``cluster(tmp_path, postgres_url, nodes=2)`` yields a ``Cluster`` with the nginx URL, each node's URL,
the boto3 client of the bucket and ``kill(i)`` to take a node down hard (SIGKILL of its process
group, as a crashed machine). nginx runs Debian's binary with its own configuration written from
``deploy/nginx/maum.conf`` into ``tmp_path`` (loopback ports, no root paths). The PostgreSQL
database gets a schema of its own (``maum_multinode``), emptied first, so other PostgreSQL tests
are unaffected. Used by ``tests/test_multinode.py`` and ``benchmarks/multinode_bench.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import boto3
import sqlalchemy as sa

from tests.browser import REPO, free_port, server_env, wait_for
from tests.conftest import TEST_AUDIO_KEYS

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SCHEMA = "maum_multinode"
BUCKET = "maum-multinode"
SECRET_KEY = "multinode-test-secret-key-shared-by-every-node"


@dataclass
class Cluster:
    url: str  # nginx
    node_urls: list[str]
    s3: object  # boto3 client
    database_url: str
    nginx_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def kill(self, index: int) -> None:
        """Take node ``index`` down at once (its master and workers), as a crash would."""
        os.killpg(self.processes[index].pid, signal.SIGKILL)
        self.processes[index].wait()

    def rows(self, sql: str) -> list[tuple]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return [tuple(r) for r in connection.execute(sa.text(sql))]
        finally:
            engine.dispose()

    def bucket_keys(self) -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        return sorted(o["Key"] for page in paginator.paginate(Bucket=BUCKET) for o in page.get("Contents", ()))


def nginx_available() -> bool:
    return os.path.exists(NGINX)


def schema_url(postgres_url: str) -> str:
    """``postgres_url`` with its own schema first on the search path, emptied."""
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    sep = "&" if "?" in postgres_url else "?"
    return f"{postgres_url}{sep}options={quote(f'-csearch_path={SCHEMA}')}"


def drop_schema(postgres_url: str) -> None:
    """Remove the deployment's schema, so it leaves nothing in the shared test database."""
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    engine.dispose()


def nginx_config(template: Path, listen_port: int, node_ports: list[int], tmp: Path) -> str:
    """The deployment's nginx configuration, made to run unprivileged from ``tmp`` on loopback ports."""
    text = template.read_text(encoding="utf-8")
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in node_ports)
    text = re.sub(
        r"upstream maum \{.*?\n\}", "upstream maum {\n" + servers + "\n    keepalive 16;\n}", text, flags=re.S
    )
    text = re.sub(r"server \{\s*listen 80;.*?\n\}\n", "", text, count=1, flags=re.S)  # the HTTP→HTTPS redirect
    text = re.sub(r"listen 443 ssl http2;.*\n\s*listen \[::\]:443 ssl http2;", f"listen 127.0.0.1:{listen_port};", text)
    text = re.sub(r"\n\s*ssl_[a-z_]+ [^;]+;", "", text)
    text = text.replace("/var/log/nginx/", f"{tmp}/")
    user = "user root;\n" if os.getuid() == 0 else ""
    temps = "".join(
        f"    {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
        f"events {{ worker_connections 512; }}\nhttp {{\n{temps}    access_log {tmp}/access.log;\n{text}\n}}\n"
    )


@contextmanager
def cluster(tmp_path: Path, postgres_url: str, nodes: int = 2, workers: int = 1) -> Iterator[Cluster]:
    """Start the S3 server, ``nodes`` gunicorn nodes and nginx; stop everything when the block ends."""
    from moto.server import ThreadedMotoServer

    with ExitStack() as stack:
        s3_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        endpoint = f"http://127.0.0.1:{s3_port}"
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        s3.create_bucket(Bucket=BUCKET)

        database_url = schema_url(postgres_url)
        stack.callback(drop_schema, postgres_url)
        env = {
            "MAUM_DATABASE_URL": database_url,
            "MAUM_DB_STATEMENT_TIMEOUT_MS": "0",  # the search path travels in the URL's options
            "MAUM_SECRET_KEY": SECRET_KEY,
            "MAUM_AUDIO_KEYS": TEST_AUDIO_KEYS,
            "MAUM_AUDIO_STORAGE": "s3",
            "MAUM_S3_ENDPOINT_URL": endpoint,
            "MAUM_S3_BUCKET": BUCKET,
            "MAUM_S3_REGION": "us-east-1",
            "MAUM_S3_ACCESS_KEY_ID": "test",
            "MAUM_S3_SECRET_ACCESS_KEY": "test",
            "MAUM_S3_PREFIX": "maum/",
            "MAUM_TRUSTED_PROXIES": "1",
            "MAUM_TRANSCRIBER": "fake",
            "MAUM_CLASSIFIER": "fake",
            "MAUM_RESPONDER": "fake",
            "MAUM_SYNTHESIZER": "fake",
            # Every simulated client comes from 127.0.0.1 (through nginx): no per-address limits here.
            "MAUM_RATE_TURNS_PER_IP": "0",
            "MAUM_RATE_TURNS_PER_CONVERSATION": "0",
            "MAUM_RATE_CONVERSATIONS_PER_IP": "0",
        }
        python = Path(sys.executable)
        first_env = server_env(tmp_path / "node0", **env)
        subprocess.run(
            [python.with_name("flask"), "--app", "wsgi", "db", "upgrade"], cwd=REPO, env=first_env, check=True,
            capture_output=True,
        )  # fmt: skip
        ports = [free_port() for _ in range(nodes)]
        processes, logs = [], []
        for i, port in enumerate(ports):
            log_path = tmp_path / f"node{i}.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [python.with_name("gunicorn"), "wsgi:app", "-c", "gunicorn.conf.py", "--workers", str(workers),
                     "--bind", f"127.0.0.1:{port}"],
                    cwd=REPO, env=server_env(tmp_path / f"node{i}", **env), stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            processes.append(process)
            logs.append(log_path)
            stack.callback(_stop, process)
        node_urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, process, log_path in zip(node_urls, processes, logs, strict=True):
            wait_for(f"{url}/readyz", 60, process, log_path)

        nginx_tmp = tmp_path / "nginx"
        nginx_tmp.mkdir()
        nginx_port = free_port()
        conf = nginx_tmp / "nginx.conf"
        conf.write_text(nginx_config(REPO / "deploy" / "nginx" / "maum.conf", nginx_port, ports, nginx_tmp))
        nginx_log = nginx_tmp / "stderr.log"
        with open(nginx_log, "wb") as log:
            nginx = subprocess.Popen(
                [NGINX, "-p", str(nginx_tmp), "-c", str(conf), "-e", str(nginx_tmp / "error.log")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        stack.callback(_stop, nginx)
        url = f"http://127.0.0.1:{nginx_port}"
        wait_for(f"{url}/healthz", 15, nginx, nginx_log)
        yield Cluster(url, node_urls, s3, database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                      nginx_tmp, processes, logs)  # fmt: skip


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    time.sleep(0)
