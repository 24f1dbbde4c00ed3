"""The studio's web server: a Starlette app on uvicorn, bound to 127.0.0.1, guarded by a token.

Security, after Jupyter's local server: every request (page, files, API, stream) must carry the session's
random token, as ``?token=`` or the ``X-Ninjagrad-Token`` header, else 403; the Host header must name
this server (127.0.0.1:PORT or localhost:PORT), else 403, which stops DNS-rebinding pages; the page is
served with a Content-Security-Policy that lets it load nothing from elsewhere; and nothing the page sends
is evaluated: commands are names of Session methods, arguments are JSON values.

Routes (``NAME`` is a registered session type, see ``sessions.py``):

- ``GET /``                       the page (the built ``static/index.html``, the token written into it)
- ``GET /static/FILE``            the page's scripts and styles
- ``GET /api/sessions``           the session names
- ``GET /api/NAME/state``         the newest snapshot (JSON)
- ``GET /api/NAME/stream``        server-sent events: one ``data:`` line per new snapshot, ≤ 30 a second
- ``POST /api/NAME/COMMAND``      run a command with the JSON body as its keyword arguments; answers the
                                  new snapshot, or 400 ``{"error": message}`` (the session is unchanged)
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from ninjagrad.errors import UserError
from ninjagrad.studio.sessions import MAX_UPDATES_PER_SECOND, SESSION_MODULES, SESSION_TYPES, Session

HOST = "127.0.0.1"  # loopback only: nothing on the network can reach the studio
STATIC = Path(__file__).parent / "static"
TOKEN_PLACEHOLDER = "__NINJAGRAD_TOKEN__"  # in the built index.html; replaced when the page is served
MAX_BODY_BYTES = 64 * 1024  # a command's JSON body; an expression or a few numbers need far less
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*"  # a notebook's IFrame may show it
)


class Guard:
    """ASGI middleware: the Host check and the token check, before any route runs, for HTTP and WebSocket."""

    def __init__(self, app: Any, token: str, allowed_hosts: set[str]) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if host not in self.allowed_hosts:
            await _refuse(
                scope, send, f"Host {host!r} is not this studio ({', '.join(sorted(self.allowed_hosts))})"
            )
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = headers.get("x-ninjagrad-token") or (query.get("token") or [""])[0]
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            await _refuse(scope, send, "missing or wrong token: open the URL that `ninjagrad studio` printed")
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),  # the token is in the URL: never pass it on
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(scope: dict, send: Any, reason: str) -> None:
    """403 with a one-line reason; a WebSocket handshake is refused the same way (HTTP 403)."""
    body = f"403 Forbidden: {reason}\n".encode()
    if scope["type"] == "websocket":
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Studio:
    """The sessions of one running studio, made on first use, one per registered session type."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = dict(options or {})  # from the command line, for the sessions (e.g. input, kata)
        for module in SESSION_MODULES:
            importlib.import_module(module)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set when the server shuts down: streams end by themselves

    def session(self, name: str) -> Session:
        with self._lock:
            if name not in self._sessions:
                if name not in SESSION_TYPES:
                    raise KeyError(name)
                self._sessions[name] = SESSION_TYPES[name](self)
                self._sessions[name].publish()
            return self._sessions[name]

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()


def build_app(token: str, port: int, studio: Studio | None = None) -> Any:
    """The ASGI app: routes wrapped in the Guard. ``port`` is the one bound (for the Host check)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    studio = studio or Studio()

    async def page(request: Request) -> Response:
        index = STATIC / "index.html"
        if not index.exists():
            return Response("the studio page is not built: run `make web`\n", status_code=500)
        return HTMLResponse(index.read_text(encoding="utf-8").replace(TOKEN_PLACEHOLDER, token))

    async def session_names(request: Request) -> Response:
        return JSONResponse({"sessions": sorted(SESSION_TYPES)})

    async def find(request: Request) -> Session | Response:
        name = request.path_params["name"]
        try:
            return await run_in_threadpool(studio.session, name)
        except KeyError:
            return JSONResponse({"error": f"no session type {name!r}"}, status_code=404)

    async def state(request: Request) -> Response:
        session = await find(request)
        if isinstance(session, Response):
            return session
        return Response(session.latest()[1], media_type="application/json")

    async def run_command(request: Request) -> Response:
        session = await find(request)
        if isinstance(session, Response):
            return session
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        try:
            args = json.loads(body or b"{}")
        except ValueError:
            return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
        try:
            await run_in_threadpool(session.handle, request.path_params["command"], args)
        except UserError as error:
            return JSONResponse(
                {"error": str(error), "state": json.loads(session.latest()[1])}, status_code=400
            )
        return Response(session.latest()[1], media_type="application/json")

    async def stream(request: Request) -> Response:
        session = await find(request)
        if isinstance(session, Response):
            return session

        async def events() -> Any:
            sent = -1
            while not studio.stopping.is_set():
                version, text = session.latest()
                if version != sent:
                    sent = version
                    yield f"data: {text}\n\n"
                await asyncio.sleep(1.0 / MAX_UPDATES_PER_SECOND)  # the bound on the update rate

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
        )

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/sessions", session_names),
            Route("/api/{name}/state", state),
            Route("/api/{name}/stream", stream),
            Route("/api/{name}/{command}", run_command, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC, check_dir=False)),
        ]
    )
    app.state.studio = studio
    return Guard(app, token, {f"{HOST}:{port}", f"localhost:{port}"})


class _Server(uvicorn.Server):
    """uvicorn's server, which first tells the open streams to end, so none is cut off mid-response."""

    def __init__(self, config: uvicorn.Config, studio: Studio) -> None:
        super().__init__(config)
        self.studio = studio

    async def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self.studio.stopping.set()
        await asyncio.sleep(3.0 / MAX_UPDATES_PER_SECOND)  # each stream checks the flag once a tick
        await super().shutdown(*args, **kwargs)


class StudioServer:
    """A running studio: ``start()`` in a background thread (notebooks, tests) or ``run()`` in the foreground.

    ``port=0`` takes a free port. The socket is bound here, on 127.0.0.1, before the server starts, so the
    URL (with its token) is known at once.
    """

    def __init__(
        self, port: int = 0, token: str | None = None, options: dict[str, Any] | None = None
    ) -> None:
        if not 0 <= port <= 65535:
            raise UserError(f"--port must be between 0 (any free port) and 65535, got {port}")
        self.token = token or secrets.token_urlsafe(24)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((HOST, port))
        except OSError as error:
            self.socket.close()
            raise UserError(
                f"cannot listen on {HOST}:{port} ({error.strerror}); pick another --port"
            ) from None
        self.socket.listen(128)  # connections queue from now on, so the printed URL works at once
        self.port = self.socket.getsockname()[1]
        self.studio = Studio(options)
        app = build_app(self.token, self.port, self.studio)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, ws="none"
        )
        self.server = _Server(config, self.studio)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.token}"

    def run(self) -> None:
        """Serve until Ctrl-C (uvicorn turns SIGINT into a graceful stop), then stop the sessions."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.studio.close()
            self.socket.close()

    def start(self) -> StudioServer:
        """Serve from a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.run, name="ninjagrad-studio", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the studio server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
