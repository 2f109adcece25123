"""Browsers on other origins (AGENT_SESSIONS_CORS_ORIGINS): Envoy answers the preflights of the
allowed ones and grants them the replies; any other origin gets no grant. Plain HTTP, then a
real headless Chromium running a page on another origin."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_sessions.edge.config import CORS_METHODS, CORS_REQUEST_HEADERS
from agent_sessions.ops.health import wait_rest_ready
from agent_sessions.settings import Settings, SettingsError

from tests.conftest import start_envoy
from tests.support import token

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "clients" / "typescript"  # served under /ts/: the client's dist/ and node_modules/
API = "/api/agent-sessions"
APP = "https://app.example.com"
OTHER = "https://evil.example.com"


def test_the_setting_lists_exact_origins() -> None:
    env = {"AGENT_SESSIONS_CORS_ORIGINS": " https://app.example.com, http://localhost:3000 ,"}
    assert Settings.from_env(env).cors_origins == (
        "https://app.example.com",
        "http://localhost:3000",
    )
    assert Settings.from_env({}).cors_origins == ()
    for bad in (
        "*",
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://App.example.com",
        "ftp://app.example.com",
        "http://localhost:99999",
        "https://user@app.example.com",
    ):
        with pytest.raises(SettingsError, match="AGENT_SESSIONS_CORS_ORIGINS"):
            Settings.from_env({"AGENT_SESSIONS_CORS_ORIGINS": bad})


class Page:
    """A web page on its own origin (http://localhost:<port>) whose script calls the API
    through Envoy and posts what it got back to /result; /ts/ serves the TypeScript client."""

    def __init__(self) -> None:
        self.html = ""
        self.result: dict[str, Any] | None = None
        self.done = threading.Event()
        # Set when the page's script posts to /opened (its EventSource is connected).
        self.opened = threading.Event()
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                kind, status = "text/html", 200
                if self.path == "/":
                    body = page.html.encode()
                elif self.path.startswith("/ts/") and ".." not in self.path:
                    file = TS / self.path.removeprefix("/ts/")
                    kind = "text/javascript"
                    status, body = (200, file.read_bytes()) if file.is_file() else (404, b"")
                else:
                    status, body = 404, b""
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                body = json.loads(self.rfile.read(length))
                self.send_response(204)
                self.end_headers()
                if self.path == "/opened":
                    page.opened.set()
                else:
                    page.result = body
                    page.done.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[Page, Page]]:
    """Two pages on two origins: the first is allowed, the second is not."""
    allowed, other = Page(), Page()
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture(scope="module")
def cors_port(
    server_port: int, pages: tuple[Page, Page], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """Envoy in front of the real server, granting APP and the first page's origin."""
    process, http_port = start_envoy(
        tmp_path_factory.mktemp("cors"), server_port, cors_origins=(APP, pages[0].origin)
    )
    try:
        wait_rest_ready(http_port, process=process)
        yield http_port
    finally:
        process.terminate()
        process.wait(10)


def preflight(port: int, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        f"http://127.0.0.1:{port}{API}/conversation",
        headers={
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": ", ".join(CORS_REQUEST_HEADERS),
        },
    )


def conversation(port: int, origin: str, *, authorized: bool = True) -> httpx.Response:
    headers = {"origin": origin}
    if authorized:
        headers["authorization"] = f"Bearer {token('cors-' + uuid.uuid4().hex)}"
    return httpx.post(
        f"http://127.0.0.1:{port}{API}/conversation",
        headers=headers,
        json={"messages": [{"role": "user", "content": "Hi"}]},
        timeout=30,
    )


@pytest.mark.parametrize("method", CORS_METHODS)
def test_envoy_answers_preflights_of_allowed_origins(cors_port: int, method: str) -> None:
    reply = preflight(cors_port, APP, method)
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] == APP
    allowed_methods = {m.strip() for m in reply.headers["access-control-allow-methods"].split(",")}
    assert allowed_methods == set(CORS_METHODS)
    allowed_headers = {h.strip() for h in reply.headers["access-control-allow-headers"].split(",")}
    assert allowed_headers == set(CORS_REQUEST_HEADERS)
    assert reply.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in reply.headers


def test_other_origins_get_no_grant(cors_port: int) -> None:
    reply = preflight(cors_port, OTHER)
    assert not any(h.startswith("access-control-") for h in reply.headers), reply.headers
    reply = conversation(cors_port, OTHER)
    assert reply.status_code == 200  # the server answers; the browser hides it from the page
    assert not any(h.startswith("access-control-") for h in reply.headers), reply.headers


def test_allowed_origins_may_read_replies_and_errors(cors_port: int) -> None:
    reply = conversation(cors_port, APP)
    assert reply.status_code == 200 and reply.json()["messages_count"] == 2
    assert reply.headers["access-control-allow-origin"] == APP
    exposed = {h.strip() for h in reply.headers["access-control-expose-headers"].split(",")}
    assert exposed == {"grpc-status", "grpc-message"}
    # The server's errors and Envoy's own replies are granted too, so a page can read why.
    refused = conversation(cors_port, APP, authorized=False)
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP
    unknown = httpx.get(f"http://127.0.0.1:{cors_port}/nope", headers={"origin": APP})
    assert unknown.status_code == 404 and unknown.headers["access-control-allow-origin"] == APP


def test_without_origins_nobody_gets_a_grant(rest_port: int) -> None:
    reply = preflight(rest_port, APP)
    assert reply.status_code == 404
    assert not any(h.startswith("access-control-") for h in reply.headers)
    reply = conversation(rest_port, APP)
    assert reply.status_code == 200
    assert not any(h.startswith("access-control-") for h in reply.headers)


SCRIPT = """
(async () => {
  let result;
  try {
    const reply = await fetch(%(url)s, {
      method: "POST",
      headers: {
        "authorization": "Bearer " + %(token)s,
        "content-type": "application/json",
        "idempotency-key": %(key)s,
      },
      body: JSON.stringify({messages: [{role: "user", content: "Hi from a page"}]}),
    });
    result = {status: reply.status, grpcStatus: reply.headers.get("grpc-status"),
              body: await reply.json()};
  } catch (error) {
    result = {error: String(error.message)};
  }
  await fetch("/result", {method: "POST", body: JSON.stringify(result)});
})();
"""


# The TypeScript client's REST entry point, as a page would load it without a bundler: its
# dist/ as ES modules, the packages it imports mapped to theirs.
CLIENT_PAGE = """<!doctype html><title>t</title>
<script type="importmap">%(imports)s</script>
<script type="module">
let result;
try {
  const { AgentSessionsRestClient } = await import("/ts/dist/rest/index.js");
  const client = new AgentSessionsRestClient({ baseUrl: %(base)s, token: %(token)s });
  const session = await client.sessions.create({ sessionName: "From a page" });
  const renamed = await client.sessions.update(
    session.sessionId, { sessionName: "Renamed" }, { etag: session.etag });
  const reply = await client.conversation({ sessionId: session.sessionId, messages: "Hi" });
  const texts = [];
  for await (const text of client.converseText({ sessionId: session.sessionId, messages: "More" })) {
    texts.push(text);
  }
  result = { name: renamed.sessionName, response: reply.response, count: reply.messagesCount,
             streamed: texts.join("") };
} catch (error) {
  result = { error: String(error && error.message || error) };
}
await fetch("/result", { method: "POST", body: JSON.stringify(result) });
</script>"""


def import_map(*packages: str) -> str:
    """An import map of these packages' ES module entry points (their package.json exports)."""
    imports = {}
    for package in packages:
        folder = TS / "node_modules" / package
        exports = json.loads((folder / "package.json").read_text())["exports"]
        for subpath, entry in exports.items():
            target = entry["import"]
            target = target["default"] if isinstance(target, dict) else target
            name = package + subpath.removeprefix(".")
            imports[name] = f"/ts/node_modules/{package}/{target.removeprefix('./')}"
    return json.dumps({"imports": imports})


def run_in_browser(page: Page, envoy_port: int, tmp: Path, html: str = "") -> dict[str, Any]:
    """Loads the page (by default SCRIPT: one fetch) in headless Chromium and returns what its
    script posted back."""
    script = SCRIPT % {
        "url": json.dumps(f"http://127.0.0.1:{envoy_port}{API}/conversation"),
        "token": json.dumps(token("browser-" + uuid.uuid4().hex)),
        "key": json.dumps(uuid.uuid4().hex),
    }
    with in_browser(page, tmp, html or f"<!doctype html><title>t</title><script>{script}</script>"):
        assert page.done.wait(60), "the page did not report back within 60 s"
    assert page.result is not None
    return page.result


@contextlib.contextmanager
def in_browser(page: Page, tmp: Path, html: str) -> Iterator[None]:
    """Headless Chromium showing `html` on the page's origin while the block runs."""
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is missing: `make test` installs it (Debian's chromium package)"
    page.result = None
    page.html = html
    page.done.clear()
    page.opened.clear()
    browser = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # tests may run as root, where the sandbox refuses to start
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={tmp}",
            page.origin + "/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        browser.terminate()
        browser.wait(30)


def test_a_page_on_an_allowed_origin_calls_the_api(
    cors_port: int, pages: tuple[Page, Page], tmp_path: Path
) -> None:
    result = run_in_browser(pages[0], cors_port, tmp_path)
    assert result.get("status") == 200, result
    assert result["grpcStatus"] == "0"
    assert result["body"]["response"] == "This is a mock response to: Hi from a page"
    assert result["body"]["messages_count"] == 2


def test_a_page_on_another_origin_cannot(
    cors_port: int, pages: tuple[Page, Page], tmp_path: Path
) -> None:
    assert run_in_browser(pages[1], cors_port, tmp_path) == {"error": "Failed to fetch"}


def test_the_typescript_rest_client_works_from_a_page(
    cors_port: int, pages: tuple[Page, Page], tmp_path: Path
) -> None:
    html = CLIENT_PAGE % {
        "imports": import_map("@bufbuild/protobuf", "@connectrpc/connect"),
        "base": json.dumps(f"http://127.0.0.1:{cors_port}"),
        "token": json.dumps(token("ts-browser-" + uuid.uuid4().hex)),
    }
    result = run_in_browser(pages[0], cors_port, tmp_path, html)
    assert result == {
        "name": "Renamed",
        "response": "This is a mock response to: Hi",
        "count": 2,
        "streamed": "This is a mock response to: More",
    }, result


# A `:watch` EventSource, as a page opens one: no header, so the token is in the query. It tells
# /opened when connected, then posts the first `message` event; or that it was refused.
WATCH_PAGE = """<!doctype html><title>t</title>
<script>
const source = new EventSource(%(url)s);
const report = (result) => fetch("/result", { method: "POST", body: JSON.stringify(result) });
source.onopen = () => fetch("/opened", { method: "POST", body: "{}" });
source.onmessage = (event) => {
  const data = JSON.parse(event.data);
  if (data.message && data.message.content !== "before") {
    source.close();
    report({ message: data.message });
  }
};
source.onerror = () => {
  if (source.readyState === EventSource.CLOSED) report({ error: "closed" });
};
</script>"""


def watch_page(port: int, session_id: str, user: str) -> str:
    query = f"after_seq=0&access_token={token(user)}"
    url = f"http://127.0.0.1:{port}{API}/{session_id}:watch?{query}"
    return WATCH_PAGE % {"url": json.dumps(url)}


def new_session(port: int, user: str) -> str:
    """A session with one message, so a watch from seq 0 has an event to send at once (a gRPC
    stream's headers, and so the SSE reply's, go out with its first event)."""
    session_id = "watched-" + uuid.uuid4().hex[:8]
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}{API}",
        headers={"authorization": f"Bearer {token(user)}"},
        timeout=20,
    ) as http:
        created = http.post("", json={"session_id": session_id})
        assert created.status_code == 200, created.text
        written = http.post(f"/{session_id}/messages", json={"role": "user", "content": "before"})
        assert written.status_code == 200, written.text
    return session_id


def test_a_page_on_an_allowed_origin_watches_a_session_with_an_event_source(
    cors_port: int, pages: tuple[Page, Page], tmp_path: Path
) -> None:
    user = "watcher-" + uuid.uuid4().hex
    session_id = new_session(cors_port, user)
    page = pages[0]
    with in_browser(page, tmp_path, watch_page(cors_port, session_id, user)):
        assert page.opened.wait(60), f"the EventSource did not open: {page.result}"
        # Written while the page watches: it must arrive as a `message` event.
        written = httpx.post(
            f"http://127.0.0.1:{cors_port}{API}/{session_id}/messages",
            headers={"authorization": f"Bearer {token(user)}"},
            json={"role": "user", "content": "seen from a page"},
            timeout=20,
        )
        assert written.status_code == 200, written.text
        assert page.done.wait(30), "the page got no message event within 30 s"
    assert page.result is not None
    message = page.result.get("message")
    assert message and message["content"] == "seen from a page", page.result
    assert message["id"] == written.json()["id"]


def test_a_page_on_another_origin_cannot_watch(
    cors_port: int, pages: tuple[Page, Page], tmp_path: Path
) -> None:
    user = "watcher-" + uuid.uuid4().hex
    session_id = new_session(cors_port, user)
    page = pages[1]
    with in_browser(page, tmp_path, watch_page(cors_port, session_id, user)):
        assert page.done.wait(60), "the page did not report back within 60 s"
    assert page.result == {"error": "closed"}
    assert not page.opened.is_set()


def test_the_watch_stream_is_granted_to_allowed_origins_only(cors_port: int) -> None:
    """What the browsers above rely on, header by header: a reconnecting EventSource sends
    `last-event-id`, so a GET stream's preflight must allow it."""
    user = "watcher-" + uuid.uuid4().hex
    session_id = new_session(cors_port, user)
    url = f"http://127.0.0.1:{cors_port}{API}/{session_id}:watch"
    for origin, granted in ((APP, True), (OTHER, False)):
        reply = httpx.options(
            url,
            headers={
                "origin": origin,
                "access-control-request-method": "GET",
                "access-control-request-headers": "last-event-id",
            },
        )
        if granted:
            assert reply.status_code == 200, reply.text
            assert reply.headers["access-control-allow-origin"] == APP
            assert "last-event-id" in reply.headers["access-control-allow-headers"].split(", ")
            assert "GET" in reply.headers["access-control-allow-methods"].split(", ")
        else:
            assert not any(h.startswith("access-control-") for h in reply.headers)
        with httpx.stream(
            "GET",
            f"{url}?after_seq=0&access_token={token(user)}",
            headers={"origin": origin, "last-event-id": "0"},
            timeout=20,
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            grant = stream.headers.get("access-control-allow-origin")
            assert grant == (APP if granted else None), stream.headers
