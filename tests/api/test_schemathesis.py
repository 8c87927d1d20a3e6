"""R4, bounded: schemathesis over the app's own /openapi.json, every operation, every role.

The app runs under uvicorn in a thread (its lifespan, projection worker and checkpoint
writer included) on a fresh database of each backend; schemathesis generates cases from
the schema and calls it over loopback HTTP. Every answer must be below 500, and every
error an `application/problem+json` document. A small, seeded `max_examples` keeps a
backend's run near a minute.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.platform.db import create_engine
from service.platform.settings import Settings
from service.platform.tokens import create_token
from tests.api.conftest import PROBLEM, WHO
from tests.conftest import run_async

pytestmark = pytest.mark.filterwarnings("ignore")

MAX_EXAMPLES = 25
#: Every answer below 500, and every status, media type and body as the schema says.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ("secretariat", "auditor", "applicant", None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _tokens(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        return {
            "secretariat": await create_token(engine, "secretariat", "st-sec", None),
            "auditor": await create_token(engine, "auditor", "st-aud", None),
            "applicant": await create_token(engine, "applicant", "st-app", WHO),
        }
    finally:
        await engine.dispose()


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The app under uvicorn on a free port; its base URL and a token per role."""
    tokens = run_async(lambda: _tokens(database_url))
    app = create_app(
        Settings(database_url=database_url, environment="test", signing_key_file=tmp_path / "k")
    )
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _seed_world(base: str, tokens: dict[str, str]) -> None:
    """A roster and a request held by USA, so that some generated commands reach the rules."""
    auth = {"Authorization": f"Bearer {tokens['secretariat']}"}
    with httpx.Client(base_url=base, headers=auth) as client:
        for member in ("USA", "FRA", "GBR"):
            body: dict[str, Any] = {
                "member": member,
                "term_start": "1945-10-24",
                "occurred_at": "2025-01-01T00:00:00Z",
            }
            assert client.post("/v1/committee/members", json=body).status_code == 201
        request: dict[str, Any] = {
            "applicant": {"name": WHO, "kind": "un_agency"},
            "channel": "direct",
            "title": "t",
            "purpose": "p",
            "beneficiaries": "b",
            "items": [{"description": "d", "quantity": 1, "unit": "u", "value_usd": 1}],
            "request_id": "AAA",
            "occurred_at": "2025-02-01T00:00:00Z",
        }
        assert client.post("/v1/requests", json=request).status_code == 201
        circulated = {"occurred_at": "2025-02-02T00:00:00Z", "deadline": "2025-02-10T00:00:00Z"}
        assert client.post("/v1/requests/AAA/circulate", json=circulated).status_code == 200
        hold = {"member": "USA", "occurred_at": "2025-02-03T00:00:00Z"}
        assert client.post("/v1/requests/AAA/holds", json=hold).status_code == 200


def _explore(
    operation: Any, base: str, token: str | None, role: str | None, failures: list[str]
) -> int:
    """Up to MAX_EXAMPLES generated cases of one operation as one role."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    calls = 0

    @seed(20260205)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base, headers=headers, timeout=30)
        label = f"{role} {case.method} {case.formatted_path} {case.query} {case.body!r:.200}"
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as error:  # collect them all, report at the end
            failures.append(f"{label}: {response.status_code} {response.text[:300]} {error}")
            return
        if response.status_code >= 400:
            kind = response.headers.get("content-type") or [""]
            kind = kind if isinstance(kind, str) else kind[0]
            if not kind.startswith(PROBLEM):
                failures.append(f"{label}: {response.status_code} not a problem: {kind}")

    check()
    return calls


def test_no_server_errors_and_problems_for_every_role(
    served: tuple[str, dict[str, str]],
) -> None:
    base, tokens = served
    _seed_world(base, tokens)
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    failures: list[str] = []
    calls = 0
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 30, [op.label for op in operations]
    for operation in operations:
        if operation.path == "/v1/events/stream":
            continue  # follows the log forever; tested in test_reads with follow=false
        for role in ROLES:
            calls += _explore(operation, base, tokens[role] if role else None, role, failures)
    assert not failures, "\n".join(failures[:30])
    assert calls >= 4 * len(operations), calls  # hypothesis did generate
