"""Bearer authentication and role checks, as annotated dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.api.problems import Forbidden, Unauthorized
from service.api.token_cache import CACHE, token_digest, well_formed
from service.platform.tokens import Caller, find_caller_by_hash
from service.runtime import Runtime

#: The roles that oversee the log: told its position (`X-Docket-Position`, SPEC §9).
OVERSEERS = frozenset({"secretariat", "auditor"})


async def bearer_caller(runtime: Runtime, header: str) -> tuple[Caller | None, str | None]:
    """The live caller of an `Authorization` header and its token's hash, or None for no
    token, a bad one or a revoked one (without saying which: `authenticate` does)."""
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not well_formed(secret):
        return None, None
    digest = token_digest(secret)
    return await current_caller(runtime, digest), digest


def resolved(request: Request) -> Caller | None:
    """The caller a middleware authenticated from this request's own header already
    (`service.api.read_side`, before it waits for a position), if any."""
    caller: Caller | None = getattr(request.state, "caller", None)
    return caller


async def authenticate(request: Request) -> Caller:
    """The caller named by the `Authorization: Bearer` header, or 401.

    The runtime is taken from the request rather than from a `get_runtime` dependency:
    every sub-dependency costs FastAPI a resolution per request (B2)."""
    if (known := resolved(request)) is not None:
        return known
    runtime: Runtime = request.app.state.runtime
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized(
            "send `Authorization: Bearer <token>`; tokens come from `docket token create`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secret = secret.strip()
    if not well_formed(secret):  # refused before it is hashed, looked up or cached
        raise Unauthorized(
            "not a Docket token (dkt_ and 43 characters, from `docket token create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    digest = token_digest(secret)
    caller = await current_caller(runtime, digest)
    if caller is None:
        raise Unauthorized(
            "the token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.caller = caller
    request.state.token_digest = digest
    return caller


async def current_caller(runtime: Runtime, digest: str, *, fresh: bool = False) -> Caller | None:
    """The live token with this hash, through the process's bounded cache (so a
    revocation is seen within `token_cache.TTL_SECONDS`); `fresh` asks the database."""
    return await CACHE.caller(
        digest, lambda d: find_caller_by_hash(runtime.engine, d), max_age=0.0 if fresh else None
    )


async def still_authorised(request: Request, runtime: Runtime, *, fresh: bool = False) -> bool:
    """Whether the token that opened this (long) request is still live: streams ask as
    they go, so that a revocation ends them. `fresh` asks the database rather than the
    cache (a keep-alive: the revocation is seen there, whatever the cache's TTL)."""
    digest = getattr(request.state, "token_digest", None)
    return digest is not None and await current_caller(runtime, digest, fresh=fresh) is not None


async def secretariat(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    if caller.role != "secretariat":
        raise Forbidden(f"only the secretariat records this; the token's role is {caller.role}")
    return caller


async def reader(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    """Any authenticated role; applicants are narrowed to their own requests by the reads."""
    return caller


async def auditor_or_secretariat(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    if caller.role not in ("secretariat", "auditor"):
        raise Forbidden(
            f"only auditors and the secretariat read this; the token's role is {caller.role}"
        )
    return caller


async def optional_overseer(request: Request) -> Caller | None:
    """The secretariat or auditor calling, or None for anyone else (no token, a bad one,
    another role): for answers that tell more to those who oversee (`/readyz`)."""
    if not request.headers.get("authorization"):
        return None
    try:
        caller = await authenticate(request)
    except Unauthorized:
        return None
    return caller if caller.role in ("secretariat", "auditor") else None


AnyCaller = Annotated[Caller, Depends(reader)]
Secretariat = Annotated[Caller, Depends(secretariat)]
Overseer = Annotated[Caller, Depends(auditor_or_secretariat)]
MaybeOverseer = Annotated[Caller | None, Depends(optional_overseer)]
