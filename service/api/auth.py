"""Bearer authentication and role checks, as annotated dependencies."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from service.api.problems import Forbidden, Unauthorized
from service.runtime import Runtime, get_runtime
from service.tokens import Caller, find_caller

_CACHE_SECONDS = 5.0  # a revoked token stops working within this many seconds
_cache: dict[str, tuple[float, Caller | None]] = {}


async def authenticate(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Caller:
    """The caller named by the `Authorization: Bearer` header, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized(
            "send `Authorization: Bearer <token>`; tokens come from `docket token create`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secret = secret.strip()
    now = time.monotonic()
    cached = _cache.get(secret)
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        caller = cached[1]
    else:
        caller = await find_caller(runtime.engine, secret)
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[secret] = (now, caller)
    if caller is None:
        raise Unauthorized(
            "the token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.caller = caller
    return caller


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


async def optional_overseer(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Caller | None:
    """The secretariat or auditor calling, or None for anyone else (no token, a bad one,
    another role): for answers that tell more to those who oversee (`/readyz`)."""
    if not request.headers.get("authorization"):
        return None
    try:
        caller = await authenticate(request, runtime)
    except Unauthorized:
        return None
    return caller if caller.role in ("secretariat", "auditor") else None


AnyCaller = Annotated[Caller, Depends(reader)]
Secretariat = Annotated[Caller, Depends(secretariat)]
Overseer = Annotated[Caller, Depends(auditor_or_secretariat)]
MaybeOverseer = Annotated[Caller | None, Depends(optional_overseer)]
