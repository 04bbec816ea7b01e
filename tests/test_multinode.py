"""Two gunicorn nodes behind Debian's nginx, sharing PostgreSQL and an S3 server: a deployment tested for real.

Needs ``MAUM_TEST_POSTGRES_URL`` (``make test`` sets it) and nginx (``scripts/setup.sh test``
installs it); skipped cleanly without either. Client turns go through nginx; audio and the
counsellor page are fetched from the *other* node directly; one node is killed during a burst
of turns that carry Idempotency-Keys and retry once, like the chat page.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.multinode import BUCKET, cluster, nginx_available
from tests.web import tone_wav

pytestmark = [pytest.mark.multinode, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def deployment(tmp_path):
    url = os.environ.get("MAUM_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("MAUM_TEST_POSTGRES_URL is not set (make test starts PostgreSQL and sets it)")
    if not nginx_available():
        pytest.skip("nginx is not installed (scripts/setup.sh test installs it)")
    with cluster(tmp_path, url, nodes=2) as running:
        yield running


def request_when_ready(url: str, *, timeout_s: float = 30.0, **kwargs):
    """``request``, again while it answers 404: a reply's complete file is assembled after the answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, headers, data = request(url, **kwargs)
        if status != 404 or time.monotonic() > deadline:
            return status, headers, data
        time.sleep(0.2)


def request(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None, opener=None):
    """``(status, headers, body)``; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with (opener.open if opener else urllib.request.urlopen)(req, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def start_conversation(base: str) -> tuple[str, str]:
    status, _, body = request(f"{base}/api/conversations", method="POST")
    assert status == 201
    data = json.loads(body)
    return data["id"], data["token"]


def send_turn(base: str, conversation_id: str, token: str, text: str) -> tuple[int, dict, int]:
    """POST a typed turn with an Idempotency-Key, retrying once on a network error or 502/503 (as the page does).

    Returns:
        ``(status, body, attempts)``; status 0 when both attempts failed on the network.
    """
    key = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
    payload = json.dumps({"text": text}).encode()
    status, body = 0, b""
    for attempt in (1, 2):  # noqa: B007 - reported after the loop
        try:
            status, _, body = request(
                f"{base}/api/conversations/{conversation_id}/turns", method="POST", body=payload, headers=headers
            )
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            status = 0
        if status not in (0, 502, 503):
            break
    return status, (json.loads(body) if status in (200, 201) else {}), attempt


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def sign_in(base: str, email: str, password: str):
    """An opener holding a counsellor's session cookie, signed in on ``base``."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    _, _, page = request(f"{base}/counsellor/login", opener=opener)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page[:500]
    form = urllib.parse.urlencode({"csrf_token": token.group(1).decode(), "email": email, "password": password})
    status, _, _ = request(
        f"{base}/counsellor/login",
        method="POST",
        body=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        opener=opener,
    )
    assert status in (200, 302)
    return opener


def test_two_nodes_behind_nginx_share_turns_audio_and_sign_ins(deployment, tmp_path):
    nginx, (node_a, node_b) = deployment.url, deployment.node_urls
    conversation_id, token = start_conversation(nginx)
    auth = {"Authorization": f"Bearer {token}"}

    recording_bytes = tone_wav()
    turn_ids = []
    for text in ("요즘 잠을 잘 못 자요", "회사 일이 너무 많아요"):
        status, body, _ = send_turn(nginx, conversation_id, token, text)
        assert status == 201, body
        turn_ids.append(body["turn_id"])
    if recording_bytes:
        form, content_type = multipart("audio", "recording.wav", recording_bytes)
        status, _, body = request(
            f"{nginx}/api/conversations/{conversation_id}/turns",
            method="POST",
            body=form,
            headers={**auth, "Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert status == 201, body
        turn_ids.append(json.loads(body)["turn_id"])

    # Every node serves every turn's audio, whichever node stored it.
    for node in (node_a, node_b):
        for turn_id in turn_ids:
            status, headers, data = request_when_ready(
                f"{node}/api/conversations/{conversation_id}/turns/{turn_id}/audio/reply", headers=auth
            )
            assert status == 200 and headers["Content-Type"] == "audio/ogg" and data[:4] == b"OggS"
    if recording_bytes:
        status, _, data = request(
            f"{node_b}/api/conversations/{conversation_id}/turns/{turn_ids[-1]}/audio/user", headers=auth
        )
        assert status == 200 and data == recording_bytes, "the upload comes back exactly, from the other node"

    # A counsellor signed in on node A opens the conversation on node B (same secret key, same database).
    deployment_env = {k: v for k, v in os.environ.items() if not k.startswith("MAUM_")}
    create_counsellor(deployment, deployment_env, "kim@example.kr", "상담사-비밀번호-1234")
    opener = sign_in(node_a, "kim@example.kr", "상담사-비밀번호-1234")
    status, _, page = request(f"{node_b}/counsellor/conversations/{conversation_id}", opener=opener)
    assert status == 200 and "요즘 잠을 잘 못 자요".encode() in page
    status, headers, data = request_when_ready(
        f"{node_b}/counsellor/conversations/{conversation_id}/turns/{turn_ids[0]}/audio/reply", opener=opener
    )
    assert status == 200 and data[:4] == b"OggS"


def create_counsellor(deployment, env, email: str, password: str) -> None:
    import subprocess
    import sys

    from tests.browser import REPO

    node_env = {**env, **node_settings(deployment)}
    subprocess.run(
        [Path(sys.executable).with_name("flask"), "--app", "wsgi", "users", "create", email, "--password-stdin"],
        cwd=REPO, env=node_env, input=password + "\n", text=True, check=True, capture_output=True,
    )  # fmt: skip


def node_settings(deployment) -> dict[str, str]:
    """The settings the nodes run with (read back from the first node's environment)."""
    with open(f"/proc/{deployment.processes[1].pid}/environ", "rb") as f:
        pairs = [item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item]
    return {k.decode(): v.decode() for k, v in pairs if k.startswith(b"MAUM_") or k == b"HF_HUB_OFFLINE"}


def test_a_node_killed_during_a_burst_loses_and_duplicates_no_turn(deployment):
    nginx = deployment.url
    clients, turns_each = 6, 5
    conversations = [start_conversation(nginx) for _ in range(clients)]
    results: dict[str, list[tuple[int, dict, int]]] = {c: [] for c, _ in conversations}
    killed = threading.Event()

    def client(conversation_id: str, token: str) -> None:
        for i in range(turns_each):
            results[conversation_id].append(send_turn(nginx, conversation_id, token, f"{i + 1}번째 이야기예요"))
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=pair) for pair in conversations]
    for thread in threads:
        thread.start()
    time.sleep(0.4)  # the burst is under way
    deployment.kill(0)
    killed.set()
    for thread in threads:
        thread.join(timeout=120)

    assert killed.is_set()
    killed_port = deployment.node_urls[0].rsplit(":", 1)[1]
    nginx_errors = (deployment.nginx_dir / "error.log").read_text()
    assert f"127.0.0.1:{killed_port}" in nginx_errors, "nginx saw the node go away and moved turns to the other"
    for conversation_id, answers in results.items():
        assert all(status in (200, 201) for status, _, _ in answers), answers
        stored = deployment.rows(
            f"SELECT id, user_text, idempotency_key FROM turns WHERE conversation_id = '{conversation_id}' "
            'ORDER BY "index"'
        )
        assert [text for _, text, _ in stored] == [f"{i + 1}번째 이야기예요" for i in range(turns_each)], (
            "every turn stored once, in order"
        )
        assert sorted(turn_id for turn_id, _, _ in stored) == sorted(body["turn_id"] for _, body, _ in answers)

    # Every audio object is encrypted in the bucket; after the repair sweep (a killed node can leave
    # objects of turns it never committed) every one of them belongs to a turn and plays through the app.
    keys = deployment.bucket_keys()
    for key in keys:
        head = deployment.s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=0-3")["Body"].read()
        assert head == b"MAUM" and head not in (b"RIFF", b"OggS")
    run_repair(deployment)
    referenced = {
        path for row in deployment.rows("SELECT user_audio_path, reply_audio_path FROM turns") for path in row if path
    }
    assert {k.removeprefix("maum/") for k in deployment.bucket_keys()} == referenced
    survivor = deployment.node_urls[1]
    tokens = dict(conversations)
    for turn_id, conversation_id in deployment.rows("SELECT id, conversation_id FROM turns"):
        auth = {"Authorization": f"Bearer {tokens[conversation_id]}"}
        turn_url = f"{survivor}/api/conversations/{conversation_id}/turns/{turn_id}"
        status, _, data = request_when_ready(f"{turn_url}/audio/reply", headers=auth, timeout_s=10)
        if status == 404:
            # The killed node answered this turn but died before assembling its complete reply file;
            # the reply's sentence clips still play, from any node.
            status, _, data = request(f"{turn_url}/audio/reply/0", headers=auth)
            assert status == 200 and data[:4] == b"RIFF"
        else:
            assert status == 200 and data[:4] == b"OggS"


def run_repair(deployment) -> None:
    import subprocess
    import sys

    from tests.browser import REPO

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MAUM_")}, **node_settings(deployment)}
    subprocess.run(
        [Path(sys.executable).with_name("flask"), "--app", "wsgi", "repair", "--min-age-minutes", "0"],
        cwd=REPO, env=env, check=True, capture_output=True,
    )  # fmt: skip
