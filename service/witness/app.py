"""The witness's HTTP interface: `POST /add-checkpoint` (C2SP tlog-witness)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from service.witness.protocol import Refusal, SizeConflict
from service.witness.witness import Witness

__all__ = ["MAX_BODY", "create_witness_app"]

#: A checkpoint with 100 signatures and 63 proof lines is well under this.
MAX_BODY = 64 * 1024
_PROBLEMS = "https://docket.example.org/problems/"
_TITLES = {
    400: "Malformed submission",
    403: "No trusted signature",
    404: "Unknown log",
    413: "Submission too large",
    422: "Consistency proof does not verify",
}


def _problem(status: int, rule: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": _PROBLEMS + rule,
            "title": _TITLES.get(status, "Refused"),
            "status": status,
            "detail": detail,
            "rule": rule,
        },
        status_code=status,
        media_type="application/problem+json",
    )


def create_witness_app(witness: Witness) -> FastAPI:
    """The witness app; its lifespan opens and closes the witness's store."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await witness.store.open()
        try:
            yield
        finally:
            await witness.store.close()

    app = FastAPI(title=f"Docket witness {witness.cosigner.name}", lifespan=lifespan)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY:
                return _problem(413, "witness.too-large", f"bodies are at most {MAX_BODY} bytes")
        try:
            lines = await witness.add_checkpoint(bytes(body))
        except SizeConflict as conflict:
            # Set the header itself: Starlette would add "; charset=utf-8" to a text/ type.
            return Response(
                f"{conflict.latest_size}\n",
                status_code=409,
                headers={"content-type": "text/x.tlog.size"},
            )
        except Refusal as refusal:
            return _problem(refusal.status, refusal.rule, refusal.detail)
        return PlainTextResponse(lines)

    @app.get("/{origin_hash}/checkpoint")
    async def latest_checkpoint(origin_hash: str) -> Response:
        """The monitor retrieval endpoint (SPEC §8, C2SP tlog-witness): the latest
        checkpoint cosigned for the log whose origin's SHA-256 is `origin_hash` (hex), with
        the log's signature and this witness's cosignature; 404 for a log never cosigned."""
        if not re.fullmatch(r"[0-9a-f]{64}", origin_hash):
            return _problem(404, "witness.unknown-log", "no log of that origin hash")
        note = await witness.latest_cosigned(origin_hash)
        if note is None:
            return _problem(404, "witness.unknown-log", "this witness never cosigned that log")
        return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})

    @app.get("/")
    async def describe() -> dict[str, object]:
        """Who this witness is and which logs it follows."""
        return {
            "name": witness.cosigner.name,
            "vkey": witness.cosigner.verifier_key(),
            "logs": [key.text() for keys in witness.trusted.values() for key in keys],
        }

    return app
