"""R6 at the reliability level: every operation of `/openapi.json` × every role, over real
HTTP to a real server. No access beyond the role, no 5xx, nothing written by a role that
may not write, and no member identity or actor in what an applicant is shown.

The property over random histories (no confidential value in any public or applicant
output) is `tests/public/test_leaks.py`; schemathesis over the schema (R4) is `tests/api`.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import run_async
from tests.reliability.conftest import (
    PROBLEM,
    Deployment,
    head_position,
    open_requests,
    report,
    seat_committee,
)

pytestmark = pytest.mark.postgres

OWN = "Médecins du Monde"  # the applicant of every request `open_requests` makes
RID = "REL-00000"
HOLDERS = ("SOM", "PAN")
PARAMS = {
    "id": RID,
    "request_id": RID,
    "member": "SOM",
    "path": "0/000",
    "position": "1",
}  # path: a tile
#: Query parameters some reads require, and what keeps a stream from following forever.
QUERY = {
    "/v1/events/stream": {"follow": "false"},
    "/v1/log/proofs/inclusion": {"position": "1", "tree_size": "1"},
    "/v1/log/proofs/consistency": {"from": "1", "to": "2"},
}
#: Bodies that pass validation where the role is checked inside the endpoint.
BODIES = {"/v1/requests/{id}/information-responses": {"response": "zq answer"}}
OVERSEER_ONLY = re.compile(r"^/v1/(events|export|log|stats|members/\{member\}/holds)")
ANY_TOKEN = re.compile(r"^/v1/(requests|committee)")


def _expected(method: str, path: str, role: str) -> set[int] | None:
    """The statuses `role` may get, or None where the spec leaves it to the endpoint."""
    if not path.startswith("/v1/"):
        return None  # public and operations: everyone, checked for "no 5xx" only
    if role == "none":
        return {401}
    if method == "POST":
        if role == "secretariat":
            return None
        if path.endswith("/information-responses") and role.startswith("applicant"):
            return {404} if role == "applicant-other" else None
        return {403}
    if OVERSEER_ONLY.match(path):
        return {403} if role.startswith("applicant") else None
    if ANY_TOKEN.match(path) and "{id}" in path and role == "applicant-other":
        return {404}
    return None


def test_every_operation_for_every_role(deployment: Deployment) -> None:
    dep = deployment
    for role, org in (("applicant", OWN), ("applicant-other", "Other NGO")):
        made = dep.docket(
            "token", "create", "--role", "applicant", "--org", org, "--name", f"rel-{role}"
        )
        assert made.returncode == 0, made.stderr
        dep.tokens[role] = made.stdout.strip().splitlines()[-1]
    server = dep.serve()

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await seat_committee(client, dep)
            await open_requests(client, dep, 2)
            for member in HOLDERS:
                r = await client.post(
                    f"/v1/requests/{RID}/holds", json={"member": member}, headers=dep.headers()
                )
                assert r.status_code == 200, r.text
            schema = (await client.get("/openapi.json")).json()
            failures: list[str] = []
            calls = 0
            for role in ("none", "applicant", "applicant-other", "auditor", "secretariat"):
                headers = {} if role == "none" else dep.headers(role)
                head = await head_position(client, dep)
                for template, operations in schema["paths"].items():
                    path = template.format(**PARAMS)
                    for method in operations:
                        if method.upper() not in ("GET", "POST"):
                            continue
                        if role == "secretariat" and method.upper() == "POST":
                            continue  # writes by the secretariat are the other tests' work
                        calls += 1
                        r = await client.request(
                            method.upper(),
                            path,
                            params=QUERY.get(template, {}),
                            json=BODIES.get(template, {}) if method.upper() == "POST" else None,
                            headers=headers,
                        )
                        where = f"{role} {method.upper()} {template}: {r.status_code}"
                        if r.status_code >= 500:
                            failures.append(f"{where} {r.text[:200]}")
                        expected = _expected(method.upper(), template, role)
                        if expected is not None and r.status_code not in expected:
                            failures.append(f"{where}, expected {sorted(expected)}")
                        if r.status_code >= 400 and not r.headers.get(
                            "content-type", ""
                        ).startswith(PROBLEM):
                            failures.append(f"{where} not a problem document")
                        # the roster (who sits on the committee) is public; who holds is not
                        shown = r.status_code == 200 and template != "/v1/committee"
                        if role.startswith("applicant") and shown:
                            failures.extend(_leaks(where, r.text, role))
                if role != "secretariat" and await head_position(client, dep) != head:
                    failures.append(f"{role}: the log moved")
            assert not failures, "\n".join(failures)
            return {"operations": calls, "roles": 5}

    try:
        figures = run_async(run)
    except BaseException:
        print(dep.logs())
        raise
    report("R6", figures)


def _leaks(where: str, text: str, role: str) -> list[str]:
    found = [f'"{m}"' for m in HOLDERS if f'"{m}"' in text]
    found += [s for s in ("rel-secretariat", "tok_") if s in text]
    if role == "applicant-other" and RID in text:
        found.append(RID)
    return [f"{where} shows {value}" for value in found]
