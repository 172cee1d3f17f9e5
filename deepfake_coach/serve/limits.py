"""A limit on the size of request bodies, enforced before the app parses anything.

Without it a multipart upload of any size would be read and spooled to disk
before the handler could look at it. The limit is checked on the declared
Content-Length and again while the body streams in (a chunked upload declares
none). A refused body is read and thrown away, up to a bound, so the client
gets to read the 413 answer instead of a reset connection.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # past this, stop reading a refused body and let the connection close

TooLargeBody = Callable[[int], dict]


class BodySizeLimit:
    """ASGI middleware: bodies over `max_bytes` get a 413 with `too_large(max_bytes)` as the JSON body."""

    def __init__(self, app: ASGIApp, max_bytes: int, too_large: TooLargeBody):
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, already_read=0)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, already_read=size, more=message.get("more_body", False))
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, already_read: int, more: bool = True) -> None:
        read = already_read
        while more and read < DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            more = message.get("more_body", False)
        response = JSONResponse(self.too_large(self.max_bytes), status_code=413)
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A `receive` that gives the body already read, then waits on the real one (for a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
