"""The public base URL of every absolute link and id (`DOCKET_PUBLIC_URL`, SPEC §8).

Never the request's `Host` header: a forged `Host: evil.example` would otherwise put
links to evil.example into feeds that caches keep and pass on (`public, max-age=60`).
"""

from __future__ import annotations

from fastapi import Request

from service.platform.settings import DEVELOPMENT_PUBLIC_URL, Settings


def public_url_of(settings: Settings | None) -> str:
    """The configured base URL without a trailing slash (the development one if unset)."""
    configured = settings.public_url if settings is not None else None
    return (configured or DEVELOPMENT_PUBLIC_URL).rstrip("/")


async def get_public_url(request: Request) -> str:
    """The base URL of the running service (async: no worker-thread hop per request)."""
    runtime = getattr(request.app.state, "runtime", None)
    return public_url_of(getattr(runtime, "settings", None))
