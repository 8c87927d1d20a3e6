"""The folded states a command service keeps between commands: requests' and the roster.

Each state is kept with the version of its stream; every load reads the events after
that version from the database (so another process's appends are seen) and folds only
those. A command on a request may also be decided on the kept states without reading
(`kept`): its append then expects the request stream AND the committee stream at the
versions those states were folded to, so the database refuses it (a conflict) if another
process has appended to either since, and the command is decided again on states read
from the database (`service.commands.service`).

Beside each request's state is the latest `occurred_at` of its events, so that an `as_of`
at or after it is answered from the kept state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from events.model import RecordedEvent
from events.store import EventStore
from events.types import COMMITTEE_STREAM
from projections import committee, request
from projections.committee import Roster
from projections.request import RefoldRequired, RequestState

__all__ = ["KeptStates"]


def latest_occurred(events: Sequence[RecordedEvent], since: datetime | None) -> datetime | None:
    """The latest `occurred_at` of `events`, or of `since` if later."""
    latest = since
    for event in events:
        if latest is None or event.occurred_at > latest:
            latest = event.occurred_at
    return latest


class KeptStates:
    """Up to `cache_size` request states (least recently used dropped first) and the roster."""

    def __init__(self, store: EventStore, cache_size: int = 20_000) -> None:
        self._store = store
        self._states: OrderedDict[str, RequestState] = OrderedDict()
        # stream -> (version, the latest occurred_at of its events up to that version)
        self._latest: dict[str, tuple[int, datetime]] = {}
        self._cache_size = cache_size
        self.roster: Roster = committee.EMPTY_ROSTER
        self.roster_version = 0
        self._roster_read = False

    # -- requests ----------------------------------------------------------------------

    def get(self, stream: str) -> RequestState | None:
        """The kept state of `stream`, if any."""
        return self._states.get(stream)

    def forget(self, stream: str) -> None:
        """Drop the kept state of `stream` (it is to be read again)."""
        self._states.pop(stream, None)

    async def advance(
        self, stream: str, cached: RequestState | None, fresh: Sequence[RecordedEvent]
    ) -> RequestState | None:
        """`cached` (the kept state `fresh` was read after: taken before the read, since
        another command may keep a later one meanwhile) with `fresh` applied, kept."""
        state = cached
        latest = self.latest_of(stream, cached)
        try:
            for event in fresh:
                state = request.evolve(state, event)
        except RefoldRequired:
            every = await self._store.read_stream(stream)
            state, latest = request.fold(every), latest_occurred(every, None)
        else:
            if cached is None:
                latest = latest_occurred(fresh, None)
            elif latest is not None:
                latest = latest_occurred(fresh, latest)
        if state is not None:
            self._keep(stream, state, latest)
        return state

    def latest_of(self, stream: str, state: RequestState | None) -> datetime | None:
        """The latest `occurred_at` of the events folded into `state`, if known."""
        if state is None:
            return None
        kept = self._latest.get(stream)
        return kept[1] if kept is not None and kept[0] == state.stream_version else None

    def _keep(self, stream: str, state: RequestState, latest: datetime | None) -> None:
        kept = self._states.get(stream)
        if kept is not None and kept.stream_version > state.stream_version:
            return  # another command kept a later state meanwhile
        self._states[stream] = state
        self._states.move_to_end(stream)
        if latest is None:
            self._latest.pop(stream, None)
        else:
            self._latest[stream] = (state.stream_version, latest)
        if len(self._states) > self._cache_size:
            evicted, _ = self._states.popitem(last=False)
            self._latest.pop(evicted, None)

    def kept(self, stream: str) -> tuple[RequestState, int, Roster] | None:
        """The kept state of `stream` and the kept roster with its version, if both are
        kept: enough to decide a command without reading."""
        state = self._states.get(stream)
        if state is None or not self._roster_read:
            return None
        self._states.move_to_end(stream)
        return state, self.roster_version, self.roster

    def after_append(
        self, stream: str, state: RequestState | None, recorded: Sequence[RecordedEvent]
    ) -> None:
        """Keep `state` (at the version the append expected) advanced by what it wrote."""
        mine = [e for e in recorded if e.stream_id == stream]
        self.advance_roster([e for e in recorded if e.stream_id == COMMITTEE_STREAM])
        version = state.stream_version if state is not None else 0
        if not mine or mine[0].stream_version != version + 1:
            return
        latest = self.latest_of(stream, state)
        try:
            for event in mine:
                state = request.evolve(state, event)
        except RefoldRequired:
            self.forget(stream)
            return
        if state is not None:
            known = latest is not None or version == 0
            self._keep(stream, state, latest_occurred(mine, latest) if known else None)

    # -- the roster --------------------------------------------------------------------

    def advance_roster(self, fresh: Sequence[RecordedEvent]) -> tuple[int, Roster]:
        """The kept roster with `fresh` (committee events read after its version) applied;
        its version and itself."""
        # Another command may have applied some of `fresh` since it was read: skip those.
        roster, version = self.roster, self.roster_version
        for event in fresh:
            if event.stream_version == version + 1:
                roster, version = committee.evolve(roster, event), event.stream_version
        self.roster, self.roster_version = roster, version
        self._roster_read = True
        return version, roster
