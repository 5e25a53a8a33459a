"""``BodySizeLimit``: a pure ASGI middleware that caps request bodies while they stream.

A ``Content-Length`` header can be checked up front, but a chunked body has none: a 500 MB
chunked JSON body peaked at 1.8 GB of memory, and a 1 GB chunked upload was spooled to the temp
dir before anything refused it. So the bytes of every ``http.request`` message are counted as
the app receives them; past the limit the app's next ``receive()`` raises :class:`BodyTooLarge`
(an ``HTTPException``, which FastAPI passes through its body parsing and answers as 413) and the
rest of the body is never read. A body declared too large is refused before the app runs.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException

__all__ = ["BodySizeLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive()`` once a body passes the limit: HTTP 413."""

    def __init__(self, limit: int):
        # Close the connection: the unread rest of the body must not be read as a next request.
        detail = f"body: larger than {limit} bytes (the limit)"
        super().__init__(413, detail, headers={"Connection": "close"})


class BodySizeLimit:
    """Refuse (413) any HTTP request body over ``limit`` bytes, declared or chunked."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await _send_413(send, BodyTooLarge(self.limit).detail)

        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # raised where no exception handler sat (e.g. a raw stream)
            if started:
                raise
            await _send_413(send, exc.detail)


async def _send_413(send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
