"""The HTTP API in process: the app on a fresh database (each backend), its tokens, factories.

`api` runs `create_app(settings)` with its lifespan (projection worker and checkpoint
writer included) and talks to it through `httpx.ASGITransport`. Tokens are made with
`service.platform.tokens.create_token` on the runtime's engine. The factories are plain async
functions: `seat` puts members on the committee, `make_request` walks a request to a
state through the API itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.platform.settings import Settings
from service.platform.tokens import create_token

PROBLEM = "application/problem+json"
WHO = "World Health Organization"
OTHER_ORG = "Médecins du Monde"
#: The members the factories seat: the five permanent ones and two elected ones.
MEMBERS = ("CHN", "FRA", "GBR", "RUS", "USA", "DNK", "PAK")
ROLES = ("secretariat", "auditor", "applicant")


def ago(days: float) -> str:
    """An RFC 3339 UTC time `days` before now."""
    return (datetime.now(UTC) - timedelta(days=days)).isoformat().replace("+00:00", "Z")


def submission(org: str = WHO, **changes: Any) -> dict[str, Any]:
    """A valid `POST /v1/requests` body."""
    body: dict[str, Any] = {
        "applicant": {"name": org, "kind": "un_agency"},
        "channel": "direct",
        "title": "Tuberculosis diagnostics for North Hwanghae",
        "purpose": "Diagnose and treat tuberculosis in provincial hospitals.",
        "beneficiaries": "About 12,000 patients in 14 county hospitals.",
        "items": [
            {
                "description": "GeneXpert cartridges",
                "hs_code": "3822.19",
                "quantity": 5000,
                "unit": "cartridge",
                "value_usd": 49950,
            }
        ],
        "urgent": False,
        "requested_validity_months": 6,
        "disclosure": "confidential",
    }
    body.update(changes)
    return body


@dataclass
class Api:
    """The app, a client, and a token per role (`applicant` of WHO, `other` of another org)."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str]
    settings: Settings

    def auth(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    async def get(self, path: str, role: str | None = "secretariat", **kw: Any) -> httpx.Response:
        headers = {**self.auth(role), **kw.pop("headers", {})}
        return await self.client.get(path, headers=headers, **kw)

    async def post(
        self, path: str, body: Any = None, role: str | None = "secretariat", **kw: Any
    ) -> httpx.Response:
        headers = {**self.auth(role), **kw.pop("headers", {})}
        if body is not None:
            kw["json"] = body
        return await self.client.post(path, headers=headers, **kw)

    async def ok(self, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        """A command that must succeed; its answer."""
        response = await self.post(path, body, **kw)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    async def head(self) -> int:
        position, _ = await self.app.state.runtime.store.head()
        return int(position)

    async def state(self, request_id: str, role: str = "secretariat") -> dict[str, Any]:
        response = await self.get(f"/v1/requests/{request_id}", role)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document


class Clock:
    """A fixed clock a test moves by hand (`create_app(clock=...)`): the runtime's "now"."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


async def open_api(
    database_url: str,
    tmp_path: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> AsyncIterator[Api]:
    """An `Api` on `database_url`, lifespan running, until the generator is closed; its
    runtime reads `clock` if given."""
    config = Settings(
        database_url=database_url,
        environment="test",
        signing_key_file=tmp_path / "key",
        **settings,
    )
    app = create_app(config, clock=clock)
    async with app.router.lifespan_context(app):
        engine = app.state.runtime.engine
        tokens = {
            "secretariat": await create_token(engine, "secretariat", "sec", None),
            "auditor": await create_token(engine, "auditor", "aud", None),
            "applicant": await create_token(engine, "applicant", "who", WHO),
            "other": await create_token(engine, "applicant", "mdm", OTHER_ORG),
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", timeout=30
        ) as client:
            yield Api(app=app, client=client, tokens=tokens, settings=config)


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on a fresh database of each backend."""
    async for opened in open_api(database_url, tmp_path):
        yield opened


@pytest.fixture
def api_with(database_url: str, tmp_path: Path) -> Callable[..., AsyncIterator[Api]]:
    """`async for api in api_with(body_limit_bytes=...)`: the app with other settings."""

    def make(**settings: Any) -> AsyncIterator[Api]:
        return open_api(database_url, tmp_path, **settings)

    return make


# -- factories ---------------------------------------------------------------------------


async def seat(api: Api, members: tuple[str, ...] = MEMBERS) -> None:
    """Seat `members` (permanent ones since 1945, others for 2025–2026... and beyond)."""
    permanent = {"CHN", "FRA", "GBR", "RUS", "USA"}
    for member in members:
        if member in permanent:
            body = {"member": member, "term_start": "1945-10-24", "term_end": None}
        else:
            body = {"member": member, "term_start": "2020-01-01", "term_end": "2099-12-31"}
        await api.ok("/v1/committee/members", {**body, "occurred_at": ago(400)})


STATES = (
    "submitted",
    "circulated",
    "awaiting_decision",
    "on_hold",
    "information_pending",
    "approved",
    "refused",
    "withdrawn",
)


async def make_request(
    api: Api,
    state: str = "submitted",
    *,
    org: str = WHO,
    holder: str = "USA",
    request_id: str | None = None,
    **changes: Any,
) -> str:
    """A request walked to `state` through the API (the roster must be seated for holds).

    `circulated` is under review with a deadline ahead; `awaiting_decision`, `on_hold`,
    `information_pending` and `approved` have a deadline passed (circulated 30 days ago)."""
    body = submission(org, occurred_at=ago(40), **changes)
    if request_id is not None:
        body["request_id"] = request_id
    rid: str = (await api.ok("/v1/requests", body))["request_id"]
    base = f"/v1/requests/{rid}"
    if state == "submitted":
        return rid
    if state == "withdrawn":
        await api.ok(f"{base}/withdraw", {"reason": "no longer needed"})
        return rid
    if state == "refused":
        await api.ok(f"{base}/decision", {"outcome": "refused", "reason": "dual use"})
        return rid
    if state == "circulated":
        await api.ok(f"{base}/circulate", {"occurred_at": ago(1)})
        return rid
    await api.ok(f"{base}/circulate", {"occurred_at": ago(30), "deadline": ago(20)})
    if state == "awaiting_decision":
        return rid
    if state == "on_hold":
        await api.ok(
            f"{base}/holds", {"member": holder, "reason": "more time", "occurred_at": ago(25)}
        )
        return rid
    if state == "information_pending":
        await api.ok(
            f"{base}/information-requests",
            {"requested_by": holder, "questions": "Which hospitals?", "occurred_at": ago(25)},
        )
        return rid
    if state == "approved":
        await api.ok(f"{base}/decision", {"outcome": "approved", "letter_ref": "S/AC.49/2026/1"})
        return rid
    raise ValueError(f"no such state: {state}")
