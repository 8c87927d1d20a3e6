"""Every answer Docket reads from the network, read up to a bound and within a deadline.

A peer (a witness answering the log, a log answering `docket monitor`, a webhook) may be
hostile: `bounded_request` streams the answer and stops as soon as it passes `limit` bytes
(a declared `Content-Length` over the limit is refused before any of the body is read),
and the whole exchange (connecting, the headers, every byte of the body) must end within
`within` seconds: a total deadline, so that a peer trickling one byte a second forever is
cut off too. The answer is asked for uncompressed and read raw, so that the bound holds on
what is kept in memory, not on what a small compressed body would inflate to.

Redirects are followed only when asked (`redirects`), only for GET, and only to the same
origin (scheme, host and port); one to anywhere else is refused with its `Location`.

Every failure is a `PeerAnswerError` carrying a short reason, never an httpx exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from events.errors import LogError

__all__ = ["BoundedAnswer", "PeerAnswerError", "bounded_request"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class PeerAnswerError(LogError):
    """No usable answer: unreachable, too large, too slow, or a refused redirect."""


@dataclass(frozen=True, slots=True)
class BoundedAnswer:
    """A peer's answer, its body read in full and at most the limit."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        """The body as UTF-8, undecodable bytes replaced (for messages and lenient reads)."""
        return self.content.decode("utf-8", errors="replace")


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


async def _read(response: httpx.Response, limit: int) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise PeerAnswerError(f"the answer is {encoding}-encoded; it was asked uncompressed")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 20 or int(declared) > limit):
        raise PeerAnswerError(f"the answer is over {_size(limit)} (Content-Length)")
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            raise PeerAnswerError(f"the answer is over {_size(limit)}")
        chunks.append(chunk)
    return b"".join(chunks)


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def _exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    limit: int,
    redirects: int,
    content: bytes | None,
    headers: Mapping[str, str] | None,
    params: Mapping[str, int | str] | None,
) -> BoundedAnswer:
    asked = dict(headers or {}) | {"accept-encoding": "identity"}
    target = httpx.URL(url, params=params) if params else httpx.URL(url)
    for _ in range(redirects + 1):
        request = http.build_request(method, target, content=content, headers=asked)
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            location = response.headers.get("location")
            if method == "GET" and response.status_code in _REDIRECTS and location:
                following = target.join(location)
                if not _same_origin(target, following) or redirects == 0:
                    raise PeerAnswerError(
                        f"HTTP {response.status_code} to {str(following)[:200]}: a redirect "
                        + ("to another host " if not _same_origin(target, following) else "")
                        + "is not followed"
                    )
                target = following
                continue
            body = await _read(response, limit)
            return BoundedAnswer(response.status_code, response.headers, body, str(target))
        finally:
            await response.aclose()
    raise PeerAnswerError(f"more than {redirects} redirects")


async def bounded_request(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    limit: int,
    within: float,
    redirects: int = 0,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, int | str] | None = None,
) -> BoundedAnswer:
    """`method url`, its answer read whole if it is at most `limit` bytes and arrives
    `within` seconds in all; same-origin GET redirects followed up to `redirects`.

    Raises `PeerAnswerError`.
    """
    try:
        async with asyncio.timeout(within):
            return await _exchange(http, method, url, limit, redirects, content, headers, params)
    except TimeoutError:
        raise PeerAnswerError(f"no complete answer within {within} s") from None
    except httpx.HTTPError as error:
        raise PeerAnswerError(f"{type(error).__name__}: {error or 'no answer'}") from None
