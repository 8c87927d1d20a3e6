"""The public log's tlog endpoints: the published checkpoint, hash tiles, the witness policy.

`public_log_router(source, policy)` serves, with no token:

- `GET /public/log/checkpoint`: the published checkpoint with its cosignatures
  (`text/plain; charset=utf-8`, revalidated on every use);
- `GET /public/log/tile/<L>/<N>[.p/<W>]`: C2SP tlog-tiles hash tiles of the published
  tree, read from the stored nodes (`application/octet-stream`; full tiles cached for a
  year as immutable, partial ones for a minute; a strong ETag);
- `GET /public/log/witnesses`: the quorum and each witness's name, vkey and URL.

The data come through `PublicLogSource`, so this module knows no table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from events.checkpoints import CheckpointError, parse_checkpoint
from events.tiles import HASH_SIZE, TileError, parse_tile_path, tile_node_range
from events.witnessing import WitnessConfig

__all__ = [
    "FULL_TILE_CACHE",
    "PARTIAL_TILE_CACHE",
    "PublicLogSource",
    "WitnessPolicy",
    "public_log_router",
]

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=60"
_PROBLEMS = "https://docket.example.org/problems/"


class PublicLogSource(Protocol):
    """What the public log endpoints read."""

    async def published_checkpoint(self) -> str | None:
        """The published checkpoint note with its cosignature lines, if any."""
        ...

    async def node_hashes(self, level: int, first: int, end: int) -> Sequence[bytes]:
        """The stored hashes of the tree nodes `(level, first) .. (level, end - 1)`."""
        ...


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """The quorum and the witnesses the published checkpoint is cosigned by."""

    quorum: int
    witnesses: tuple[WitnessConfig, ...] = ()

    def document(self) -> dict[str, Any]:
        return {
            "quorum": self.quorum,
            "witnesses": [
                {"name": w.cosigner_key().name, "vkey": w.key, "url": w.url} for w in self.witnesses
            ],
        }


def _problem(status: int, rule: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": _PROBLEMS + rule, "title": "Not found", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _matches(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return any(tag.strip() in (etag, "*") for tag in wanted.split(","))


def public_log_router(source: PublicLogSource, policy: WitnessPolicy) -> APIRouter:
    """The router of the three endpoints above, over `source`."""
    router = APIRouter(tags=["public"])

    @router.get(
        "/public/log/checkpoint",
        summary="The published checkpoint with its witness cosignatures (C2SP signed note)",
        response_class=Response,
    )
    async def checkpoint(request: Request) -> Response:
        note = await source.published_checkpoint()
        if note is None:
            return _problem(404, "no-published-checkpoint", "no checkpoint is published yet")
        data = note.encode()
        headers = {"ETag": _etag(data), "Cache-Control": "no-cache"}
        if _matches(request, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="text/plain; charset=utf-8", headers=headers)

    @router.get(
        "/public/log/tile/{path:path}",
        summary="A C2SP tlog-tiles hash tile of the published tree",
        response_class=Response,
    )
    async def tile(path: str, request: Request) -> Response:
        try:
            wanted = parse_tile_path("tile/" + path)
        except TileError as error:
            return _problem(404, "no-such-tile", str(error))
        note = await source.published_checkpoint()
        try:
            size = parse_checkpoint(note).size if note is not None else 0
        except CheckpointError:
            size = 0
        if wanted.end() > size:
            return _problem(
                404, "no-such-tile", f"{wanted.path()} is beyond the published tree of {size}"
            )
        level, first, end = tile_node_range(wanted)
        hashes = await source.node_hashes(level, first, end)
        data = b"".join(hashes)
        if len(hashes) != wanted.width or len(data) != wanted.width * HASH_SIZE:
            # The published tree is always stored; a gap means the tree is still being built.
            return _problem(404, "no-such-tile", f"{wanted.path()} is not stored yet")
        headers = {
            "ETag": _etag(data),
            "Cache-Control": FULL_TILE_CACHE if wanted.full else PARTIAL_TILE_CACHE,
        }
        if _matches(request, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="application/octet-stream", headers=headers)

    @router.get("/public/log/witnesses", summary="The witness policy: quorum and witnesses")
    async def witnesses() -> dict[str, Any]:
        return policy.document()

    return router
