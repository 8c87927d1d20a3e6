"""The clear fields a public record is made of (SPEC §7.1).

`RECORD_SOURCES` names, for each field of a public record (`projections.public.
public_request`), the events and the fields of their `data` it is made of, and importing
this module checks each against `events.disclosure.public_fields` (the table the leaf hash
splits on). `RECEIPT_EVENT_TYPES`, the event types those are, are the events a receipt
proves: a receipt proves what the page shows, no more.
"""

from __future__ import annotations

from collections.abc import Mapping

from events.disclosure import public_fields

__all__ = ["RECEIPT_EVENT_TYPES", "RECORD_SOURCES", "Source", "sealed_sources"]

#: `(event type, field of its data)`; `None` for the event's own time (its envelope).
Source = tuple[str, str | None]

_DECISIONS: tuple[Source, ...] = (
    ("ExemptionApproved", None),
    ("ExemptionRefused", None),
    ("RequestWithdrawn", None),
)
_VALIDITY: tuple[Source, ...] = (
    ("ExemptionApproved", "valid_from"),
    ("ExemptionApproved", "valid_until"),
    ("ExtensionGranted", "valid_until"),
)
_ITEMS: tuple[Source, ...] = (("RequestSubmitted", "items"), ("AmendmentApproved", "items"))
_EXTENSIONS: tuple[Source, ...] = (
    ("ExtensionGranted", None),
    ("ExtensionGranted", "procedure"),
    ("ExtensionGranted", "valid_until"),
)
_AMENDMENTS: tuple[Source, ...] = (
    ("AmendmentApproved", None),
    ("AmendmentApproved", "procedure"),
    ("AmendmentApproved", "items"),
)
_SHIPMENTS: tuple[Source, ...] = (
    ("ShipmentRecorded", "shipment_no"),
    ("ShipmentRecorded", "shipped_on"),
)

#: Every field of a public record (`public_request`) and what it is made of.
RECORD_SOURCES: Mapping[str, tuple[Source, ...]] = {
    "request_id": (("RequestSubmitted", "request_id"),),
    "status": (
        ("RequestSubmitted", "disclosure"),
        ("RequestCirculated", None),
        *_DECISIONS,
        *_VALIDITY,
    ),
    "applicant": (("RequestSubmitted", "applicant"),),
    "title": (("RequestSubmitted", "title"),),
    "items": _ITEMS,
    "total_value_usd": _ITEMS,
    "submitted_at": (("RequestSubmitted", None),),
    "circulated_at": (("RequestCirculated", None), ("RequestCirculated", "procedure")),
    "decided_at": _DECISIONS,
    "days_pending": (("RequestSubmitted", None), *_DECISIONS),
    "approved_at": (("ExemptionApproved", None),),
    "valid_from": (("ExemptionApproved", "valid_from"),),
    "valid_until": _VALIDITY,
    "letter_ref": (("ExemptionApproved", "letter_ref"),),
    "extensions": _EXTENSIONS,
    "amendments": _AMENDMENTS,
    "shipments": _SHIPMENTS,
    "updated": (
        ("RequestSubmitted", None),
        ("RequestCirculated", None),
        *_DECISIONS,
        *_EXTENSIONS,
        *_AMENDMENTS,
        *_SHIPMENTS,
    ),
}

#: The event types a public record is made of: the events of a public request that the
#: public sees happen, and so the events its receipt proves.
RECEIPT_EVENT_TYPES = frozenset(event_type for s in RECORD_SOURCES.values() for event_type, _ in s)


def sealed_sources() -> list[tuple[str, str, str]]:
    """`(record field, event type, data field)` of every source that §7.1 seals: none."""
    return [
        (name, event_type, field)
        for name, sources in RECORD_SOURCES.items()
        for event_type, field in sources
        if field is not None and field not in public_fields(event_type, 1)
    ]


if sealed_sources():  # pragma: no cover - a wrong line above stops every public output
    raise ImportError(f"public records would show sealed fields: {sealed_sources()}")
