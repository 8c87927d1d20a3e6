"""The imperative shell around the decision rules: load, decide, append, answer.

Every command goes the same way: replay an idempotent retry if its events are already in
the log; fold the streams it touches; check `If-Match`; run the pure `decide` function;
append with the versions it was decided on. A concurrent writer to the same stream makes
the append conflict: without `If-Match` the command is decided again on the new state.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

import structlog

from events.model import ConcurrencyConflict, NewEvent, RecordedEvent, StreamAppend
from events.read_engine import ReadEngine
from events.request_ids import NumberedRequest, NumberingExhausted
from events.store import DuplicateEvents, EventStore
from events.types import COMMITTEE_STREAM, REQUEST_STREAM_PREFIX, Change, request_stream
from projections.committee import Roster
from projections.request import RequestState
from service import rules
from service.commands.erasure import Erase, erase
from service.commands.held import projected_holds
from service.commands.kept_states import KeptStates
from service.commands.outcome import Meta, Outcome, answer, committee_answer
from service.commands.table import CommandSpec, spec_of
from service.errors import Conflict, PreconditionFailed
from service.platform.metrics import APPENDS
from service.platform.settings import Settings
from service.rules import RuleBroken
from service.rules import commands as cmd
from service.rules.calendar import load_holidays
from service.rules.request_rules import request_id_for

log = structlog.get_logger("docket.commands")

REQUEST_PREFIX = REQUEST_STREAM_PREFIX
_MAX_EVENTS_PER_COMMAND = 1024
_ATTEMPTS = 8


Decider = Callable[[RequestState | None, rules.Context], list[Change]]


class CommandService:
    """Runs the secretariat's commands against the store."""

    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        *,
        on_append: Callable[[], None] = lambda: None,
        catch_up: Callable[[], Awaitable[Any]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_size: int = 20_000,
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_append = on_append
        self.catch_up = catch_up
        self.clock = clock
        self.holidays: frozenset[date] = (
            load_holidays(settings.holidays_file) if settings.holidays_file else frozenset()
        )
        #: the folded states kept between commands (`service.commands.kept_states`)
        self.kept = KeptStates(store, cache_size)

    # -- loading -----------------------------------------------------------------------

    async def request_state(self, request_id: str) -> RequestState | None:
        """The request's current state, folded from its stream (kept, caught up)."""
        stream = request_stream(request_id)
        cached = self.kept.get(stream)
        since = cached.stream_version if cached is not None else 0
        fresh = await self.store.read_stream(stream, from_version=since + 1)
        return await self.kept.advance(stream, cached, fresh)

    async def request_state_as_of(self, request_id: str, as_of: datetime) -> RequestState | None:
        """The request's current state if no event of it occurred after `as_of` (then it
        is the state as of `as_of`), else None: fold the events up to `as_of` instead."""
        state = await self.request_state(request_id)
        latest = self.kept.latest_of(request_stream(request_id), state)
        if state is None or latest is None or latest > as_of:
            return None
        return state

    async def roster(self) -> tuple[int, Roster]:
        """The committee's roster and the version of its stream."""
        kept = self.kept
        fresh = await self.store.read_stream(COMMITTEE_STREAM, from_version=kept.roster_version + 1)
        return kept.advance_roster(fresh)

    async def request_and_roster(self, request_id: str) -> tuple[RequestState | None, int, Roster]:
        """`request_state` and `roster` in one read of the database."""
        stream = request_stream(request_id)
        kept = self.kept
        cached = kept.get(stream)
        since = cached.stream_version if cached is not None else 0
        fresh = await self.store.read_streams(
            {stream: since + 1, COMMITTEE_STREAM: kept.roster_version + 1}
        )
        state = await kept.advance(stream, cached, fresh[stream])
        roster_version, roster = kept.advance_roster(fresh[COMMITTEE_STREAM])
        return state, roster_version, roster

    def context(self, roster: Roster) -> rules.Context:
        return rules.Context.from_settings(
            self.settings, now=self.clock(), roster=roster, holidays=self.holidays
        )

    async def _event_at(self, position: int) -> RecordedEvent | None:
        found = await self.store.read_all(after=position - 1, limit=1)
        return found[0] if found and found[0].position == position else None

    async def held_by(self, member: str) -> list[RequestState]:
        """The requests in which `member` has an active hold: candidates from the holds
        projection plus every request with a `HoldPlaced` the projection has not applied
        yet, each refolded from its stream.

        The projection may lag: in a process that is not the projection worker, `catch_up`
        applies nothing. So its checkpoint is read first, then its rows, then the log after
        the checkpoint; a hold is in one or the other."""
        if self.catch_up is not None:
            await self.catch_up()
        async with ReadEngine(self.store.engine).connect() as conn:
            projected = await projected_holds(conn, member)
        ids = set(projected.request_ids)
        unapplied = await self.store.streams_with_event_type("HoldPlaced", after=projected.applied)
        ids.update(
            stream_id.removeprefix(REQUEST_PREFIX)
            for stream_id in unapplied
            if stream_id.startswith(REQUEST_PREFIX)
        )
        states = [await self.request_state(request_id) for request_id in sorted(ids)]
        return [s for s in states if s is not None and s.active_hold_by(member) is not None]

    # -- the loop ----------------------------------------------------------------------

    async def _replay_after_refusal(self, meta: Meta) -> list[RecordedEvent] | None:
        """A copy of this command sent at the same time (same `Idempotency-Key`) may have
        been written after our replay check: then the refusal was decided on the state it
        left, and the answer is the copy's, not a 409 or 412."""
        if meta.idempotency_key is None:
            return None
        return await self._replay(meta)

    async def _replay(self, meta: Meta) -> list[RecordedEvent] | None:
        if meta.idempotency_key is None:
            return None
        first = await self.store.get_by_event_ids(meta.event_ids(1))
        if not first:
            return None
        found = await self.store.get_by_event_ids(meta.event_ids(_MAX_EVENTS_PER_COMMAND))
        return sorted(found, key=lambda e: e.position)

    def _new_events(
        self,
        changes: Sequence[Change],
        meta: Meta,
        event_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[NewEvent]:
        metadata = meta.metadata()
        ids = meta.event_ids(len(changes)) if event_ids is None else event_ids
        return [
            NewEvent(
                stream_id=change.stream_id,
                event_type=change.event_type,
                data=change.data,
                occurred_at=change.occurred_at,
                metadata=metadata,
                event_id=event_id,
                schema_version=change.schema_version,
            )
            for change, event_id in zip(changes, ids, strict=True)
        ]

    async def _append(
        self, changes: Sequence[Change], versions: dict[str, int], meta: Meta
    ) -> list[RecordedEvent]:
        events = self._new_events(changes, meta)
        by_stream: dict[str, list[NewEvent]] = {}
        for event in events:
            by_stream.setdefault(event.stream_id, []).append(event)
        for stream in versions:
            by_stream.setdefault(stream, [])
        appends = [
            StreamAppend(stream, versions.get(stream, 0) or "no_stream", stream_events)
            for stream, stream_events in by_stream.items()
        ]
        recorded = await self.store.append(*appends)
        APPENDS.inc(len(recorded))
        if recorded:
            self.on_append()
        if meta.idempotency_key is not None:
            # A copy of this command may have been written first, decided on another
            # state (say, one read while that copy committed) and so with other events:
            # the store returned the ids we share with it. Answer with all of the copy's.
            replayed = await self._replay(meta)
            if replayed:
                return replayed
        return recorded

    async def request_command(
        self,
        request_id: str,
        decider: Decider,
        meta: Meta,
        *,
        needs_roster: bool = False,
        status_code: int = 200,
    ) -> Outcome:
        """Decide a command on one request's stream and append what it decided."""
        stream = request_stream(request_id)
        # If-Match compares with the database's version: read it.
        read = meta.if_match is not None
        for _ in range(_ATTEMPTS):
            replayed = await self._replay(meta)
            if replayed is not None:
                return answer(replayed, status_code, request_id)
            try:
                kept = None if read else self.kept.kept(stream)
                state: RequestState | None
                if kept is not None:
                    state, roster_version, roster = kept
                else:
                    state, roster_version, roster = await self.request_and_roster(request_id)
                version = state.stream_version if state is not None else 0
                if meta.if_match is not None and version != meta.if_match:
                    raise PreconditionFailed(
                        f"request {request_id} is at version {version}, not {meta.if_match}",
                        current_version=version,
                    )
                try:
                    changes = decider(state, self.context(roster))
                except RuleBroken:
                    if kept is None:
                        raise
                    read = True  # refused on kept states: decide again on the database's
                    continue
                versions = {stream: version}
                if needs_roster or kept is not None:
                    versions[COMMITTEE_STREAM] = roster_version
                try:
                    recorded = await self._append(changes, versions, meta)
                except ConcurrencyConflict as conflict:
                    self.kept.forget(stream)
                    if meta.if_match is not None:
                        raise PreconditionFailed(str(conflict)) from conflict
                    read = True
                    continue
                self.kept.after_append(stream, state, recorded)
            except (RuleBroken, PreconditionFailed, DuplicateEvents):
                replayed = await self._replay_after_refusal(meta)
                if replayed is not None:
                    return answer(replayed, status_code, request_id)
                raise
            return answer(recorded, status_code, request_id)
        raise Conflict(
            f"request {request_id} kept changing under this command; retry",
            rule="stream-version-conflict",
        )

    # -- the commands: each run as the table says (`service.commands.table`) ----------

    async def run(
        self,
        command: cmd.Command,
        meta: Meta,
        *,
        request_id: str | None = None,
        member: str | None = None,
    ) -> Outcome:
        """Run `command` (its body), on the request `request_id` and for the path's
        `member` where its path names them; answer what it recorded."""
        spec = spec_of(command)
        outcome: Outcome
        if spec.scope == "submit":
            outcome = await self._submit(spec, cast(cmd.SubmitRequest, command), meta)
        elif spec.scope == "request":
            if request_id is None:
                raise TypeError(f"{spec.name} acts on a request: give its id")
            outcome = await self._on_request(spec, request_id, command, meta, member)
        elif spec.scope == "committee":
            outcome = await self._on_committee(spec, command, meta, member)
        else:
            outcome = await erase(self, cast(Erase, command), meta)
        if spec.finish is not None:
            outcome = replace(outcome, body=spec.finish(outcome.body))
        return outcome

    async def _submit(self, spec: CommandSpec, command: cmd.SubmitRequest, meta: Meta) -> Outcome:
        """`RequestSubmitted`, under the caller's id or the next `HX-<year>-<seq>`."""
        if not command.request_id:
            return await self._submit_numbered(command, meta, _rule(spec))
        request_id = command.request_id
        rule = _rule(spec)

        def decide(state: RequestState | None, ctx: rules.Context) -> list[Change]:
            return rule(state, command, ctx, request_id=request_id)

        return await self.request_command(request_id, decide, meta, status_code=spec.status_code)

    async def _submit_numbered(
        self, command: cmd.SubmitRequest, meta: Meta, rule: Callable[..., list[Change]]
    ) -> Outcome:
        """A submission without an id: the store numbers it in the append's own
        transaction (`EventStore.append_numbered`), so submissions sent at once, to one
        process or several, get distinct ids with no gap, and none is refused."""
        for _ in range(_ATTEMPTS):
            replayed = await self._replay(meta)
            if replayed is not None:
                return answer(replayed, 201, replayed[0].data["request_id"])
            context = self.context(self.kept.roster)
            at = command.occurred_at or context.now
            # decided once before numbering: a refusal takes no number and costs no append
            probe = rule(None, command, context, request_id=request_id_for(at, 1))

            event_ids = meta.event_ids(len(probe))

            def build(
                request_id: str, context: rules.Context = context, ids: list[uuid.UUID] = event_ids
            ) -> list[NewEvent]:
                changes = rule(None, command, context, request_id=request_id)
                return self._new_events(changes, meta, ids)

            numbered = NumberedRequest(at.astimezone(UTC).year, event_ids, build)
            try:
                recorded = await self.store.append_numbered(numbered)
            except NumberingExhausted:
                continue  # a run of ids callers chose: the number moved past it
            except (RuleBroken, DuplicateEvents):
                replayed = await self._replay_after_refusal(meta)
                if replayed is not None:
                    return answer(replayed, 201, replayed[0].data["request_id"])
                raise
            APPENDS.inc(len(recorded))
            self.on_append()
            stream = recorded[0].stream_id
            self.kept.after_append(stream, None, recorded)
            return answer(recorded, 201, stream.removeprefix(REQUEST_PREFIX))
        raise Conflict("could not assign a request id; retry", rule="stream-version-conflict")

    async def _on_request(
        self,
        spec: CommandSpec,
        request_id: str,
        command: cmd.Command,
        meta: Meta,
        member: str | None,
    ) -> Outcome:
        """A command on one existing request, given what its rule needs."""
        rule = _rule(spec)
        needs: dict[str, Any] = {}
        if "member" in spec.needs:
            needs["member"] = _member(spec, member)
        if "target" in spec.needs:
            needs["target"] = await self._event_at(cast(_Pointing, command).target_position)

        def decide(state: RequestState | None, ctx: rules.Context) -> list[Change]:
            return rule(state, command, ctx, **needs)

        return await self.request_command(
            request_id,
            decide,
            meta,
            needs_roster="roster" in spec.needs,
            status_code=spec.status_code,
        )

    async def _on_committee(
        self, spec: CommandSpec, command: cmd.Command, meta: Meta, member: str | None
    ) -> Outcome:
        """A command on the roster, or across the requests a member holds."""
        rule = _rule(spec)
        needs: dict[str, Any] = {}
        if "member" in spec.needs:
            needs["member"] = _member(spec, member)
        holder = needs["member"] if "held" in spec.needs else None

        def decide(roster: Roster, ctx: rules.Context, held: list[RequestState]) -> list[Change]:
            if holder is not None:
                return rule(roster, command, ctx, held=held, **needs)
            return rule(roster, command, ctx, **needs)

        return await self._committee_command(
            decide, meta, holder, spec.status_code, touches_committee="roster" in spec.needs
        )

    async def _committee_command(
        self,
        decider: Callable[[Roster, rules.Context, list[RequestState]], list[Change]],
        meta: Meta,
        member: str | None,
        status_code: int,
        *,
        touches_committee: bool = True,
    ) -> Outcome:
        for _ in range(_ATTEMPTS):
            replayed = await self._replay(meta)
            if replayed is not None:
                return committee_answer(replayed, status_code)
            version, roster = await self.roster()
            held = await self.held_by(member) if member else []
            try:
                changes = decider(roster, self.context(roster), held)
            except RuleBroken:
                replayed = await self._replay_after_refusal(meta)
                if replayed is not None:
                    return committee_answer(replayed, status_code)
                raise
            versions = {request_stream(s.request_id): s.stream_version for s in held}
            if touches_committee:
                versions[COMMITTEE_STREAM] = version
            if not changes:
                replayed = await self._replay_after_refusal(meta)
                if replayed is not None:
                    return committee_answer(replayed, status_code)
                head, _ = await self.store.head()
                return Outcome(
                    status_code, {"position": head, "stream_version": None, "events": []}, None
                )
            try:
                recorded = await self._append(changes, versions, meta)
            except DuplicateEvents:
                replayed = await self._replay_after_refusal(meta)
                if replayed is not None:
                    return committee_answer(replayed, status_code)
                raise
            except ConcurrencyConflict:
                for state in held:
                    self.kept.forget(request_stream(state.request_id))
                continue
            return committee_answer(recorded, status_code)
        raise Conflict(
            "the committee's streams kept changing; retry", rule="stream-version-conflict"
        )


class _Pointing(Protocol):
    """A command's body that names an event of the log (an annotation, a retraction)."""

    target_position: int


def _rule(spec: CommandSpec) -> Callable[..., list[Change]]:
    if spec.rule is None:
        raise TypeError(f"{spec.name} has no decide function")
    return spec.rule


def _member(spec: CommandSpec, member: str | None) -> str:
    if member is None:
        raise TypeError(f"{spec.name} acts for a member: give the path's member")
    return member
