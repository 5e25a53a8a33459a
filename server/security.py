"""Browser-facing safety: security headers on every HTTP response, and tokens kept out of logs.

- ``SecurityHeaders`` (pure ASGI middleware) adds a Content-Security-Policy that allows scripts
  only from our own origin (no inline script, no eval), forbids framing, plugins and foreign
  connections, plus ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``
  (a viewer link's ``?view=`` token must not travel in a Referer header). FastAPI's ``/docs``
  pages carry an inline script of their own and get a policy that allows just that.
- ``redact`` / ``RedactTokens``: every log record has the values of ``token=``, ``view=`` and
  ``Bearer …`` replaced by ``***`` before it is written (uvicorn's access and websocket lines
  include the query string).
"""

from __future__ import annotations

import logging
import re

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Plotly writes <style> elements and style attributes; styles cannot run script.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every HTTP response (websockets untouched)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        docs = scope.get("path", "").startswith(DOCS_PATHS)
        extra = [
            (b"content-security-policy", (DOCS_CSP if docs else CSP).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


_SECRET = re.compile(r"(?i)((?:[?&](?:token|view|access_token)=)|(?:bearer[ .]))[A-Za-z0-9_\-.~%]+")


def redact(text: str) -> str:
    """``text`` with every token value (query parameters token/view, Bearer …) as ``***``."""
    return _SECRET.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """A log filter that rewrites the record's message so that no token reaches a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "kan_workbench", "")


def install_log_redaction() -> None:
    """Add ``RedactTokens`` to the loggers that may see a URL or header, and to their handlers
    (a logger's filter sees only records made on that logger; a handler's sees all that reach
    it, children's included). Idempotent; call it after logging is configured."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for target in [logger, *logger.handlers]:
            if not any(isinstance(f, RedactTokens) for f in target.filters):
                target.addFilter(RedactTokens())
