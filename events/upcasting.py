"""Upcasters: functions that bring an older schema version of an event's data up to date.

The log keeps every event as it was stored (its hash depends on that form); readers that
fold state ask for the upcast form. An upcaster registered for `(event_type, n)` turns
version-`n` data into version-`n + 1` data; they chain until none is registered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from events.model import JSON, RecordedEvent

Upcaster = Callable[[JSON], JSON]


class UpcasterRegistry:
    """Upcasters by `(event_type, from_version)`."""

    def __init__(self) -> None:
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `fn` turns `event_type` data of `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._upcasters:
                raise ValueError(f"an upcaster for {event_type} v{from_version} exists already")
            self._upcasters[key] = fn
            return fn

        return decorate

    def latest_version(self, event_type: str, stored_version: int = 1) -> int:
        """The version `event_type` data reaches from `stored_version` by upcasting."""
        version = stored_version
        while (event_type, version) in self._upcasters:
            version += 1
        return version

    def upcast_data(self, event_type: str, version: int, data: JSON) -> tuple[JSON, int]:
        """`event_type` data stored at `version`, brought to the latest version; and that
        version."""
        while (upcaster := self._upcasters.get((event_type, version))) is not None:
            data = upcaster(data)
            version += 1
        return data, version

    def upcast(self, event: RecordedEvent) -> RecordedEvent:
        """`event` with its data at the latest version. Its hashes still name the stored form."""
        data, version = self.upcast_data(event.event_type, event.schema_version, event.data)
        if version == event.schema_version:
            return event
        return dataclasses.replace(event, data=data, schema_version=version)


#: The application's registry; event type modules register into it at import.
registry = UpcasterRegistry()
register = registry.register
upcast = registry.upcast
latest_version = registry.latest_version
