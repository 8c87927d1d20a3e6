"""Bearer tokens as the API meets them: their shape checked before any lookup, lookups
cached briefly by the token's hash in a bounded cache.

- Shape: `docket token create` makes `dkt_` + 43 URL-safe base64 characters (32 random
  bytes). Anything else is refused before it is hashed or looked up, so a client cannot
  make the server hold or hash megabytes of bearer.
- Cache: keyed by the SHA-256 of the token (what the database stores), never the token;
  at most `MAX_ENTRIES` entries of a 64-character key and a small `Caller` (~ 300 bytes
  each, ~ 1.2 MB in all), least recently used out first.
- Revocation: an entry lives `TTL_SECONDS`; every process looks the token up again after
  that, so `docket token revoke` in any process takes effect everywhere within a second.
  An open `/v1/events/stream` re-checks through this cache before each event, and asks
  the database at each keep-alive (`max_age=0`): an idle stream ends at its next one.
- One lookup in flight per token: callers that find the entry stale while a lookup of
  it runs wait for that one. A thousand subscribers of one token woken by the same event
  then cost one query, not a thousand (B12).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from service.platform.tokens import Caller, hash_token

TOKEN_SHAPE = re.compile(r"dkt_[A-Za-z0-9_-]{43}")
TTL_SECONDS = 0.5
MAX_ENTRIES = 4096

Lookup = Callable[[str], Awaitable[Caller | None]]


def well_formed(secret: str) -> bool:
    """Whether `secret` has the shape of a token this service hands out."""
    return TOKEN_SHAPE.fullmatch(secret) is not None


class TokenCache:
    """Callers by token hash, each for `ttl` seconds, at most `max_entries` of them."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()
        self._looking_up: dict[str, asyncio.Task[Caller | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return list(self._entries)

    async def caller(
        self, digest: str, lookup: Lookup, *, max_age: float | None = None
    ) -> Caller | None:
        """The live token with this hash (None if unknown or revoked), looked up with
        `lookup(digest)` when not cached or older than the TTL (or than `max_age`: 0 asks
        the database, joining a lookup of the same token already running)."""
        now = time.monotonic()
        cached = self._entries.get(digest)
        ttl = self.ttl if max_age is None else min(max_age, self.ttl)
        if cached is not None and now - cached[0] < ttl:
            self._entries.move_to_end(digest)
            return cached[1]
        running = self._looking_up.get(digest)
        if running is None:
            running = asyncio.ensure_future(self._look_up(digest, lookup, now))
            self._looking_up[digest] = running
            running.add_done_callback(lambda done: self._forget(digest, done))
        # shielded: a caller that goes away does not cancel the others' lookup
        return await asyncio.shield(running)

    def _forget(self, digest: str, done: asyncio.Task[Caller | None]) -> None:
        if self._looking_up.get(digest) is done:
            del self._looking_up[digest]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter got it already

    async def _look_up(self, digest: str, lookup: Lookup, now: float) -> Caller | None:
        found = await lookup(digest)
        self._entries[digest] = (now, found)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return found


CACHE = TokenCache()


def token_digest(secret: str) -> str:
    return hash_token(secret)
