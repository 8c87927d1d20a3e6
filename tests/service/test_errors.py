"""One error tree, one handler: every `DocketError` (the 36 rule errors and the HTTP kinds)
comes out as the RFC 9457 problem it carries, through the same exception handler."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import FastAPI

from events.errors import ConcurrencyConflict
from service import errors
from service.api import problems
from service.api.problems import INTERNAL_DETAIL, install_problem_handlers
from service.errors import PROBLEM_BASE, DocketError
from service.rules import RULES, RuleBroken
from service.rules import errors as rule_errors

PROBLEM = "application/problem+json"


def _tree(root: type[DocketError]) -> list[type[DocketError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_tree(sub))
    return found


EVERY_ERROR = _tree(DocketError)
#: The kinds built from a detail alone (the others carry typed members: a stream and its
#: versions, a retraction's target, a witness's status and rule).
BUILT_FROM_DETAIL = [kind for kind in EVERY_ERROR if kind.__init__ is DocketError.__init__]


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    raised: dict[str, DocketError] = {}

    @app.get("/raise/{name}")
    async def raise_it(name: str) -> None:
        raise raised[name]

    app.state.raised = raised
    return app


async def _answer(app: FastAPI, error: DocketError) -> httpx.Response:
    app.state.raised[type(error).__name__] = error
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(f"/raise/{type(error).__name__}")


def test_the_tree_holds_every_rule_error_and_every_http_kind() -> None:
    assert set(RULES.values()) <= set(EVERY_ERROR)
    assert len(RULES) == 36
    kinds = {errors.NotFound, errors.Conflict, errors.PreconditionFailed, errors.Unavailable}
    assert kinds <= set(EVERY_ERROR)
    # the names routers and commands import today are the same classes
    assert problems.Conflict is errors.Conflict and problems.NotFound is errors.NotFound
    assert rule_errors.RuleBroken is RuleBroken and issubclass(RuleBroken, DocketError)


def test_one_handler_renders_every_docket_error() -> None:
    app = _app()
    assert DocketError in app.exception_handlers
    handler = app.exception_handlers[DocketError]
    # no class of the tree has a handler of its own but the store's version conflict
    # (answered as the service's `Conflict`): they all go through the base's
    own = [c for c in EVERY_ERROR if c in app.exception_handlers]
    assert own == [DocketError, ConcurrencyConflict]
    assert handler is problems._on_docket_error  # the one the short command path uses too


@pytest.mark.parametrize("kind", BUILT_FROM_DETAIL, ids=lambda kind: kind.__name__)
async def test_each_error_comes_out_with_its_status_type_and_rule(
    kind: type[DocketError],
) -> None:
    error = kind("what happened")
    response = await _answer(_app(), error)
    assert response.status_code == kind.status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == kind.status
    if kind.status == 500:  # internal (the root's own, a log or projection error)
        assert body["title"] == DocketError.title and body["detail"] == INTERNAL_DETAIL
        return
    assert body["title"] == kind.title
    assert body["detail"] == "what happened"
    if kind.rule is None:
        assert "rule" not in body
        assert body["type"] == PROBLEM_BASE + kind.slug
    else:
        assert body["rule"] == kind.rule
        assert body["type"] == PROBLEM_BASE + kind.rule


async def test_a_rule_error_and_an_http_problem_come_out_the_same_way() -> None:
    app = _app()
    held = await _answer(app, rule_errors.OneActiveHoldPerMember("USA already holds it"))
    missing = await _answer(app, errors.NotFound("no request HX-2026-9"))
    # byte for byte the documents the API answered before the tree was one
    assert held.status_code == 409
    assert held.content == (
        b'{"type":"https://docket.example.org/problems/one-active-hold-per-member",'
        b'"title":"This member already holds the request","status":409,'
        b'"detail":"USA already holds it","rule":"one-active-hold-per-member"}'
    )
    assert missing.status_code == 404
    assert missing.content == (
        b'{"type":"https://docket.example.org/problems/not-found","title":"Not found",'
        b'"status":404,"detail":"no request HX-2026-9"}'
    )
    assert held.headers["content-type"] == missing.headers["content-type"] == PROBLEM


async def test_an_error_carries_its_rule_headers_and_members() -> None:
    app = _app()
    conflict = errors.Conflict("retry", rule="stream-version-conflict", stream_id="request-X")
    stale = errors.PreconditionFailed("at version 3, not 2", current_version=3)
    down = errors.Unavailable("retry shortly", headers={"Retry-After": "2"})
    answered = [await _answer(app, e) for e in (conflict, stale, down)]
    assert [r.status_code for r in answered] == [409, 412, 503]
    assert orjson.loads(answered[0].content) == {
        "type": PROBLEM_BASE + "stream-version-conflict",
        "title": "Conflict with the log",
        "status": 409,
        "detail": "retry",
        "rule": "stream-version-conflict",
        "stream_id": "request-X",
    }
    assert answered[1].json()["current_version"] == 3
    assert answered[1].json()["type"] == PROBLEM_BASE + "precondition-failed"
    assert answered[2].headers["retry-after"] == "2"
    assert answered[2].json()["type"] == PROBLEM_BASE + "database-unavailable"


def test_an_instance_may_name_its_status_and_kind() -> None:
    """What the edge meets (Starlette's 405, a bug's 500) is a plain `DocketError`."""
    refused = DocketError("GET only", status=405, slug="method-not-allowed", title="Nope")
    assert refused.problem() == {
        "type": PROBLEM_BASE + "method-not-allowed",
        "title": "Nope",
        "status": 405,
        "detail": "GET only",
    }
    bug = DocketError("logged")
    assert (bug.status, bug.type, bug.rule) == (500, PROBLEM_BASE + "internal-error", None)
    # the class keeps its own: an instance's override is the instance's
    assert DocketError.status == 500 and DocketError.slug == "internal-error"


def test_a_rule_error_is_pure_and_fixed_by_its_class() -> None:
    broken = rule_errors.RequestNotFound("no request HX-1")
    assert (broken.status, broken.rule, broken.type) == (
        404,
        "request-not-found",
        PROBLEM_BASE + "request-not-found",
    )
    assert broken.headers == {} and broken.extra == {}
    assert RULES["request-not-found"] is rule_errors.RequestNotFound


def test_the_command_shell_imports_nothing_of_the_http_layer() -> None:
    """`service.commands.service`, the rules and the error tree load without FastAPI or `api/`."""
    code = (
        "import sys, service.commands.service, service.rules, service.errors\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')"
        " or m.startswith(('service.api', 'service.public'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == "[]"
