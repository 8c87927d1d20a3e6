"""Security headers: `nosniff` on every answer; on HTML pages also a Content Security
Policy, a frame policy and a referrer policy.

The public pages are server-rendered with no inline script or style, so a strict policy
costs nothing and turns an injection into inert text. `/docs` and `/redoc` (FastAPI's
Swagger UI and ReDoc load their scripts from a CDN, inline) get everything but the CSP.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_ALWAYS = ((b"x-content-type-options", b"nosniff"),)
_HTML = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_CSP = ((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),)
_API_DOCS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api_docs = str(scope.get("path", "")).startswith(_API_DOCS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                added = list(_ALWAYS)
                if content_type.startswith(b"text/html"):
                    added += _HTML if api_docs else (*_HTML, *_CSP)
                headers += [(k, v) for k, v in added if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
