"""The studio's server over real HTTP on 127.0.0.1: the token, the Host check, commands, the stream's rate."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from ninjagrad.studio.server import StudioServer
from ninjagrad.studio.sessions import MAX_UPDATES_PER_SECOND, SESSION_TYPES, Session, session_type


class Flood(Session):
    """Publishes as fast as it can: the stream must still send at most 30 snapshots a second."""

    def __init__(self, studio=None):
        super().__init__(studio)
        self.count = 0
        self.stopping = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stopping:
            self.count += 1
            self.publish()
            time.sleep(0.0005)

    def snapshot(self):
        return {"count": self.count}

    def close(self):
        self.stopping = True


if "test-flood" not in SESSION_TYPES:
    session_type("test-flood")(Flood)


@pytest.fixture(scope="module")
def server():
    server = StudioServer().start()
    yield server
    server.stop()


def request(server, method, path, token=True, host=None, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    if token is True:
        path += ("&" if "?" in path else "?") + f"token={server.token}"
    elif token:
        path += ("&" if "?" in path else "?") + f"token={token}"
    all_headers = {"Host": f"127.0.0.1:{server.port}" if host is None else host, **(headers or {})}
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read() if response.status != 200 or "stream" not in path else b""
    connection.close()
    return response.status, data, response


def test_binds_loopback_only(server):
    assert server.socket.getsockname()[0] == "127.0.0.1"
    assert urlsplit(server.url).hostname == "127.0.0.1"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/"),
        ("GET", "/static/app.js"),
        ("GET", "/api/sessions"),
        ("GET", "/api/expression/state"),
        ("GET", "/api/moons/stream"),
        ("POST", "/api/moons/play"),
        ("GET", "/no/such/page"),
    ],
)
@pytest.mark.parametrize("token", [False, "wrong-token"], ids=["no token", "wrong token"])
def test_every_request_without_the_token_is_403(server, method, path, token):
    status, body, _ = request(server, method, path, token=token, body=b"{}" if method == "POST" else None)
    assert status == 403
    assert b"token" in body
    assert server.studio._sessions.get("moons") is None or not server.studio.session("moons").playing


def test_the_token_header_works_too(server):
    status, _, _ = request(
        server, "GET", "/api/sessions", token=False, headers={"X-Ninjagrad-Token": server.token}
    )
    assert status == 200


def test_websocket_handshake_without_token_is_403(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            (
                "GET /api/moons/stream HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        reply = s.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 403")


@pytest.mark.parametrize("host", ["evil.example:80", "attacker.test", "127.0.0.1:1", ""])
def test_a_foreign_host_header_is_403_even_with_the_token(server, host):
    status, body, _ = request(server, "GET", "/", host=host)
    assert status == 403
    assert b"Host" in body


def test_localhost_host_is_accepted(server):
    status, body, response = request(server, "GET", "/", host=f"localhost:{server.port}")
    assert status == 200
    assert server.token.encode() in body  # written into the page for its own requests
    assert "default-src 'self'" in response.getheader("content-security-policy")


def test_commands_answer_the_new_state_or_a_message(server):
    status, body, _ = request(server, "POST", "/api/expression/example", body=b'{"name": "tanh neuron"}')
    assert status == 200
    status, body, _ = request(server, "POST", "/api/expression/backward_all", body=b"{}")
    grads = {n["label"]: n["grad"] for n in json.loads(body)["graph"]["nodes"]}
    assert grads["x1"] == pytest.approx(-1.5, abs=1e-12) and grads["w2"] == 0.0
    status, body, _ = request(
        server, "POST", "/api/expression/parse", body=b'{"text": "__import__(\\"os\\")"}'
    )
    assert status == 400
    answer = json.loads(body)
    assert "not allowed" in answer["error"] and answer["state"]["title"] == "tanh neuron"
    assert request(server, "POST", "/api/expression/parse", body=b"{not json")[0] == 400
    assert request(server, "POST", "/api/expression/nope", body=b"{}")[0] == 400
    assert request(server, "POST", "/api/nosuch/play", body=b"{}")[0] == 404
    assert request(server, "POST", "/api/expression/parse", body=b"x" * 70_000)[0] == 413
    assert request(server, "GET", "/api/expression/backward_all")[0] == 405  # commands are POST only


def read_events(server, session, seconds):
    """The snapshots the stream sends in ``seconds``."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "GET", f"/api/{session}/stream?token={server.token}", headers={"Host": f"127.0.0.1:{server.port}"}
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type").startswith("text/event-stream")
    events = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = response.fp.readline()
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
    connection.close()
    return events


def test_stream_rate_is_bounded_however_fast_the_session_publishes(server):
    seconds = 2.0
    events = read_events(server, "test-flood", seconds)
    flood = server.studio.session("test-flood")
    published = flood.latest()[0]
    assert published > 5 * MAX_UPDATES_PER_SECOND * seconds  # the session really outran the bound
    assert 5 <= len(events) <= MAX_UPDATES_PER_SECOND * seconds + 2
    versions = [e["version"] for e in events]
    assert versions == sorted(set(versions))  # newest only, never a queue of old ones


def test_training_runs_off_the_request_path(server):
    """While the moons model trains, requests are answered quickly and the stream shows steps going up."""
    assert request(server, "POST", "/api/moons/play", body=b"{}")[0] == 200
    try:
        start = time.monotonic()
        for _ in range(5):
            assert request(server, "GET", "/api/sessions")[0] == 200
        assert time.monotonic() - start < 5
        events = read_events(server, "moons", 2.0)
        steps = [e["step"] for e in events]
        assert steps[-1] > steps[0]
    finally:
        request(server, "POST", "/api/moons/pause", body=b"{}")


def test_notebook_show_is_an_iframe_of_a_running_studio():
    pytest.importorskip("IPython", reason="the notebook call needs IPython")
    import ninjagrad.studio

    frame = ninjagrad.studio.show()
    running = ninjagrad.studio.start()  # the same server, not a second one
    try:
        assert frame.src == running.url
        parts = urlsplit(running.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        connection.request("GET", f"/?{parts.query}")
        assert connection.getresponse().status == 200
        assert ninjagrad.studio.show().src == running.url
    finally:
        running.stop()


def test_command_prints_one_line_and_stops_cleanly_on_ctrl_c():
    import re
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "ninjagrad", "studio", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"ninjagrad studio at http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)\n", line)
        assert match, line
        port, token = int(match.group(1)), match.group(2)
        # An open stream must not keep the server from stopping.
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream.request("GET", f"/api/moons/stream?token={token}", headers={"Host": f"127.0.0.1:{port}"})
        assert stream.getresponse().status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out == ""  # nothing after the one line
    assert "Traceback" not in err


def test_command_refuses_a_bad_port():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ninjagrad", "studio", "--no-browser", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--port must be between 0" in result.stderr and "Traceback" not in result.stderr
