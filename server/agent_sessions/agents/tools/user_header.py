"""The caller's user id on each MCP tool call: in the call's `_meta`, and as an HTTP header.

One MCP session per server is shared by every turn of a worker, and the MCP client has no
per-call headers of its own: its HTTP requests are sent by the session's writer task, not the
turn's. So the user id travels in the `tools/call` request's `_meta` (MCP's place for such
data), and the session's HTTP client copies it from there into a header on that request, so a
server can read either.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

# The `_meta` key of a tools/call that holds the calling user's id (a UUID).
USER_META_KEY = "agent-sessions/user"
# The header that carries the same id on the HTTP request of that call.
USER_HEADER = "X-Agent-Sessions-User"
_MARKER = json.dumps(USER_META_KEY).encode()


async def copy_user_to_header(request: httpx2.Request) -> None:
    """An httpx2 request hook: a JSON-RPC tools/call whose `_meta` names a user gets the header;
    every other request goes without it (a configured header of that name is not trusted)."""
    if USER_HEADER in request.headers:
        del request.headers[USER_HEADER]
    if request.method != "POST":
        return
    try:
        content = request.content
    except httpx2.RequestNotRead:  # a streamed body: not a JSON-RPC message of the client's
        return
    if _MARKER not in content:  # cheap: most requests are not tool calls
        return
    try:
        message: Any = json.loads(content)
    except ValueError:
        return
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    user = meta.get(USER_META_KEY) if isinstance(meta, dict) else None
    if isinstance(user, str) and user.isascii() and user.isprintable():
        request.headers[USER_HEADER] = user


def http_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """The MCP session's HTTP client (the SDK's defaults: no redirects followed), with the hook."""
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if timeout is not None:
        kwargs["timeout"] = timeout
    if headers is not None:
        kwargs["headers"] = headers
    if auth is not None:
        kwargs["auth"] = auth
    return httpx2.AsyncClient(event_hooks={"request": [copy_user_to_header]}, **kwargs)


__all__ = ["USER_HEADER", "USER_META_KEY", "copy_user_to_header", "http_client"]
