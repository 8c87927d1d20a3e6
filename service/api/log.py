"""The raw log for auditors: events with hashes, a live stream, the export."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from events.log_tree import LogTree, TreeError
from service.api.auth import Overseer, still_authorised
from service.api.problems import Forbidden, NotFound, Unauthorized, Unprocessable, problem_openapi
from service.platform.event_stream import KEEPALIVE, event_frame, sse_frames
from service.queries.publication import published_or_first
from service.runtime import Runtime, get_runtime

router = APIRouter(tags=["log"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_Proof = TypeVar("_Proof")
_READ_PROBLEMS = problem_openapi(Unauthorized, Forbidden)


@router.get("/v1/events", summary="The raw log with hashes", responses=_READ_PROBLEMS)
async def list_events(
    runtime: RuntimeDep,
    _: Overseer,
    after: Annotated[int, Query(ge=0)] = 0,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    start = int(cursor) if cursor is not None else after
    events = await runtime.store.read_all(after=start, limit=limit + 1)
    page = events[:limit]
    next_cursor = str(page[-1].position) if len(events) > limit else None
    return {"items": [e.wire() for e in page], "next_cursor": next_cursor}


@router.get(
    "/v1/events/stream",
    summary="Server-Sent Events of new events, resumable with Last-Event-ID",
    response_class=StreamingResponse,
    responses=_READ_PROBLEMS,
)
async def stream_events(
    request: Request,
    runtime: RuntimeDep,
    _: Overseer,
    last_event_id: Annotated[str | None, Header(pattern=r"^[0-9]{1,18}$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    follow: bool = True,
) -> StreamingResponse:
    start = int(last_event_id) if last_event_id is not None else after
    frames: AsyncGenerator[bytes, None]
    if follow:
        # one follower per process fans new events out to every subscriber (SPEC §9)
        subscription = (await runtime.following()).subscribe(start)
        frames = sse_frames(subscription, keepalive_s=runtime.settings.stream_keepalive_seconds)
    else:
        frames = _frames_until(runtime, start, (await runtime.store.head())[0])

    async def checked() -> AsyncIterator[bytes]:
        # the token is checked again before every event (through the cache: at most one
        # lookup per token and TTL, however many subscribers) and at every keep-alive of
        # an idle stream (in the database: the cache may hold the token longer than the
        # revocation is old): a revoked token ends the stream with a last event saying
        # why, within a second when events flow, at its next keep-alive when none do
        try:
            async for frame in frames:
                idle = frame is KEEPALIVE
                if not await still_authorised(request, runtime, fresh=idle):
                    yield REVOKED
                    return
                yield frame
        finally:
            await frames.aclose()

    return StreamingResponse(
        checked(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


REVOKED = b'event: revoked\ndata: {"detail": "the token was revoked"}\n\n'


async def _frames_until(runtime: Runtime, after: int, head: int) -> AsyncGenerator[bytes, None]:
    """The frames of the events in (after, head]: what the log holds now, then the end."""
    while after < head:
        batch = await runtime.store.read_all(after=after, limit=500)
        for event in batch:
            if event.position > head:
                return
            yield event_frame(event.position, event.event_type, event.wire())
        if not batch:
            return
        after = batch[-1].position


@router.get(
    "/v1/export",
    summary="The whole log as JSON Lines, streamed",
    response_class=StreamingResponse,
    responses=_READ_PROBLEMS,
)
async def export(runtime: RuntimeDep, _: Overseer) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        async for event in runtime.store.iter_all(after=0, batch=5000):
            yield orjson.dumps(event.wire()) + b"\n"

    return StreamingResponse(
        lines(),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="docket-log.jsonl"'},
    )


# -- proofs and checkpoints ------------------------------------------------------------------


def _tree(runtime: Runtime) -> LogTree:
    return runtime.tree


async def _default_size(runtime: Runtime) -> int:
    latest = await _tree(runtime).latest_checkpoint()
    if latest is None:
        raise NotFound(
            "no checkpoint has been signed yet; give tree_size explicitly",
            rule="no-checkpoint",
        )
    return latest.tree_size


async def _prove(
    runtime: Runtime, size: int, prove: Callable[[LogTree], Awaitable[_Proof]]
) -> _Proof:
    """`prove` on the stored tree, extended first if it does not cover `size` yet; a size
    beyond the log is a 404 problem."""
    tree = _tree(runtime)
    if not await tree.covers(size):
        await tree.extend()
    try:
        return await prove(tree)
    except TreeError as error:
        raise NotFound(str(error), rule="beyond-the-log") from error


async def _inclusion(runtime: Runtime, position: int, size: int) -> dict[str, Any]:
    if position > size:
        raise Unprocessable(f"position {position} is beyond the tree of {size}")
    leaf, root, proof = await _prove(runtime, size, lambda tree: tree.inclusion(position - 1, size))
    return {
        "position": position,
        "leaf_index": position - 1,
        "tree_size": size,
        "leaf_hash": leaf.hex(),
        "root": root.hex(),
        "proof": [p.hex() for p in proof],
    }


async def _consistency(runtime: Runtime, old: int, size: int) -> dict[str, Any]:
    if old > size:
        raise Unprocessable(f"from ({old}) is beyond to ({size})")
    old_root, new_root, proof = await _prove(
        runtime, size, lambda tree: tree.consistency(old, size)
    )
    return {
        "from": old,
        "to": size,
        "root_from": old_root.hex(),
        "root_to": new_root.hex(),
        "proof": [p.hex() for p in proof],
    }


@router.get(
    "/v1/log/proofs/inclusion",
    summary="RFC 9162 inclusion proof of the event at `position`",
    responses=problem_openapi(Unauthorized, Forbidden, NotFound, Unprocessable),
)
async def inclusion_proof(
    runtime: RuntimeDep,
    _: Overseer,
    position: Annotated[int, Query(ge=1, le=2**62)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    size = tree_size if tree_size is not None else await _default_size(runtime)
    return await _inclusion(runtime, position, size)


@router.get(
    "/v1/log/proofs/consistency",
    summary="RFC 9162 consistency proof between two tree sizes",
    responses=problem_openapi(Unauthorized, Forbidden, NotFound, Unprocessable),
)
async def consistency_proof(
    runtime: RuntimeDep,
    _: Overseer,
    from_: Annotated[int, Query(alias="from", ge=1, le=2**62)],
    to: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    size = to if to is not None else await _default_size(runtime)
    return await _consistency(runtime, from_, size)


public_router = APIRouter(tags=["public"])


async def _published_size(runtime: Runtime, wanted: int | None) -> int:
    """`wanted`, or the published size when None; a size beyond what is published is a
    404 naming the rule (the public sees only what the witnesses cosigned)."""
    published = await published_or_first(runtime)
    size = 0 if published is None else published.size
    if size == 0:
        raise NotFound("no checkpoint is published yet", rule="no-published-checkpoint")
    if wanted is not None and wanted > size:
        raise NotFound(
            f"tree size {wanted} is beyond the published checkpoint of {size}: the public "
            "proofs cover only the published tree",
            rule="beyond-the-published-log",
        )
    return size if wanted is None else wanted


@public_router.get(
    "/public/log/proofs/inclusion",
    summary="RFC 9162 inclusion proof within the published tree (no token)",
    responses=problem_openapi(NotFound, Unprocessable),
)
async def public_inclusion_proof(
    runtime: RuntimeDep,
    position: Annotated[int, Query(ge=1, le=2**62)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    return await _inclusion(runtime, position, await _published_size(runtime, tree_size))


@public_router.get(
    "/public/log/proofs/consistency",
    summary="RFC 9162 consistency proof within the published tree (no token)",
    responses=problem_openapi(NotFound, Unprocessable),
)
async def public_consistency_proof(
    runtime: RuntimeDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=2**62)],
    to: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    return await _consistency(runtime, from_, await _published_size(runtime, to))


def _note_etag(note: str) -> str:
    return '"' + hashlib.sha256(note.encode()).hexdigest()[:32] + '"'


@public_router.get(
    "/public/checkpoint",
    summary="The published checkpoint with its cosignatures (C2SP tlog-checkpoint signed note)",
    response_class=PlainTextResponse,
    responses=problem_openapi(NotFound),
)
async def public_checkpoint(runtime: RuntimeDep) -> PlainTextResponse:
    published = await published_or_first(runtime)
    if published is None:
        raise NotFound("no checkpoint is published yet", rule="no-published-checkpoint")
    return PlainTextResponse(
        published.note,
        headers={
            "ETag": f'"{published.size}-{published.note.count(chr(10))}"',
            "Cache-Control": "no-cache",
        },
    )


@public_router.get(
    "/public/log-key",
    summary="The checkpoint verifier key in C2SP note form",
    response_class=PlainTextResponse,
)
async def public_log_key(runtime: RuntimeDep) -> PlainTextResponse:
    # The Ed25519 key first (what a reader taking one line reads), then ML-DSA-44's if set.
    return PlainTextResponse("".join(key + "\n" for key in runtime.signer.verifier_keys()))


@public_router.get(
    "/public/log/policy",
    summary="The witness policy as a C2SP tlog-policy file: log key, witnesses, groups, quorum",
    response_class=PlainTextResponse,
)
async def public_log_policy(runtime: RuntimeDep) -> PlainTextResponse:
    """SPEC §6.1: what `docket receipt verify --policy` and `docket monitor --policy` read,
    and any tlog-proof verifier. Its log line is this log's verifier key."""
    text = runtime.settings.policy_in_force(runtime.signer.verifier_keys())
    return PlainTextResponse(text, headers={"Cache-Control": "no-cache"})
