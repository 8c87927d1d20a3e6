"""The command service keeps folded request states and the roster between commands; another
process appending to the same database must never be missed (each load reads the events
after the cached version from the database). The second process here is a second
`EventStore` and `CommandService` on the same database, with its own caches."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from events.store import EventStore
from service.api.problems import Conflict
from service.commands.outcome import Meta
from service.commands.service import CommandService
from service.platform.tokens import Caller
from service.rules import RuleBroken
from service.rules import commands as cmd
from tests.api.conftest import Api, ago, make_request, seat

OTHER = Caller("tok_other001", "other-process", "secretariat")


@pytest.fixture
async def other(api: Api) -> AsyncIterator[CommandService]:
    """A second process's command service on the API's database."""
    store = await EventStore.open(api.settings.database_url)
    try:
        yield CommandService(store, api.settings)
    finally:
        await store.close()


def _meta(n: int) -> Meta:
    return Meta(OTHER, f"other-{n}")


async def test_a_cached_request_state_sees_the_other_process_appends(
    api: Api, other: CommandService
) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")
    # The other process folds and caches the request (version after its hold).
    placed = await other.run(cmd.PlaceHold(member="USA"), _meta(1), request_id=rid)
    assert placed.status_code == 200
    # This process releases the hold: the other process's cached state is now stale.
    await api.ok(f"/v1/requests/{rid}/holds/USA/release", {})
    # A release on the stale state would be refused (no hold); a hold on it, too (held).
    with pytest.raises((RuleBroken, Conflict)):
        await other.run(cmd.ReleaseHold(), _meta(2), request_id=rid, member="USA")
    again = await other.run(cmd.PlaceHold(member="USA"), _meta(3), request_id=rid)
    assert again.stream_version == (await api.state(rid))["stream_version"]
    state = await other.request_state(rid)
    assert state is not None and state.active_hold_by("USA") is not None


async def test_a_cached_roster_sees_a_member_seated_by_the_other_process(
    api: Api, other: CommandService
) -> None:
    await seat(api, ("USA", "FRA"))
    rid = await make_request(api, "circulated")
    await other.run(cmd.PlaceHold(member="USA"), _meta(1), request_id=rid)  # roster cached
    with pytest.raises(RuleBroken):
        await other.run(cmd.PlaceHold(member="DNK"), _meta(2), request_id=rid)
    body = {"member": "DNK", "term_start": "2020-01-01", "term_end": "2099-12-31"}
    await api.ok("/v1/committee/members", {**body, "occurred_at": ago(400)})
    held = await other.run(cmd.PlaceHold(member="DNK"), _meta(3), request_id=rid)
    assert [e["event_type"] for e in held.body["events"]] == ["HoldPlaced"]
    version, roster = await other.roster()
    assert version == 3
    assert "DNK" in {seat.member for seat in roster.seats}


async def test_as_of_uses_the_kept_state_only_when_nothing_occurred_later(
    api: Api, other: CommandService
) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")  # submitted 40 days ago, circulated 1 day ago

    async def status(as_of: str) -> str:
        response = await api.get(f"/v1/requests/{rid}", params={"as_of": as_of})
        assert response.status_code == 200, response.text
        found: str = response.json()["status"]
        return found

    assert await status(ago(0)) == "under_review"  # the kept state: nothing occurred later
    assert await status(ago(10)) == "submitted"  # before the circulation: folded up to then
    # another process places a hold, dated half a day ago
    await other.run(cmd.PlaceHold(member="USA", occurred_at=ago(0.5)), _meta(1), request_id=rid)
    assert await status(ago(0)) == "on_hold"
    assert await status(ago(0.75)) == "under_review"
    assert await status(ago(0.25)) == "on_hold"
